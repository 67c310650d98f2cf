#include "cli/connection.h"

#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "core/json.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

std::string StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

core::Result<Connection> ReadDemo(const std::string& dir, std::string_view role) {
  const std::string path = (std::filesystem::path(dir) / "demo.json").string();
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  auto doc = core::ParseJsonObject(text.str());
  if (!in || !doc.ok()) {
    return core::InvalidArgument("cannot read " + path +
                                 " (start `edwc demo`, or pass --url, --ca and --token)");
  }
  Connection c = ConnectionFromDemoJson(*doc, role);
  if (c.url.empty()) return core::InvalidArgument(path + " names no center with an api_url");
  return c;
}

}  // namespace

std::set<std::string> ConnectionOptions() { return {"demo", "url", "ca", "token"}; }

std::string ConnectionHelp(std::string_view role) {
  const std::string r(role);
  return "  --demo DIR     read the URL, CA and " + r +
         " token from DIR/demo.json (default ./edwc-demo)\n"
         "  --url URL      a center's api URL, https://host:port (or EDWC_URL)\n"
         "  --ca FILE      the federation CA to verify it (or EDWC_CA)\n"
         "  --token TOKEN  a bearer token with the " +
         r + " role (or EDWC_TOKEN)\n";
}

std::string RealEnv(const char* env_name) {
  const char* v = std::getenv(env_name);
  return v == nullptr ? std::string() : std::string(v);
}

Connection ConnectionFromDemoJson(const json::object& demo, std::string_view role) {
  Connection c;
  c.ca_file = StringAt(demo, "ca_file");
  if (const json::value* t = demo.if_contains("tokens"); t != nullptr && t->is_object()) {
    c.token = StringAt(t->as_object(), role);
  }
  const json::value* centers = demo.if_contains("centers");
  if (centers == nullptr || !centers->is_array()) return c;
  const json::object* chosen = nullptr;
  for (const json::value& entry : centers->as_array()) {
    if (!entry.is_object()) continue;
    if (chosen == nullptr) chosen = &entry.as_object();
    const json::value* home = entry.as_object().if_contains("home");
    if (home != nullptr && home->is_bool() && home->as_bool()) {
      chosen = &entry.as_object();
      break;
    }
  }
  if (chosen != nullptr) c.url = StringAt(*chosen, "api_url");
  return c;
}

core::Result<Connection> ResolveConnection(const Args& args, std::string_view role, EnvLookup env) {
  Connection c{args.Get("url").value_or(""), args.Get("ca").value_or(""),
               args.Get("token").value_or("")};
  const bool explicit_demo = args.Has("demo");
  if (explicit_demo && !c.url.empty()) {
    return core::InvalidArgument("pass either --demo or --url, not both", "url");
  }
  if (explicit_demo) {
    EDWC_ASSIGN_OR_RETURN(Connection demo, ReadDemo(*args.Get("demo"), role));
    if (c.ca_file.empty()) c.ca_file = demo.ca_file;
    if (c.token.empty()) c.token = demo.token;
    c.url = demo.url;
  }
  if (c.url.empty()) c.url = env("EDWC_URL");
  if (c.ca_file.empty()) c.ca_file = env("EDWC_CA");
  if (c.token.empty()) c.token = env("EDWC_TOKEN");
  if (c.url.empty()) {
    EDWC_ASSIGN_OR_RETURN(Connection demo, ReadDemo("edwc-demo", role));
    c.url = demo.url;
    if (c.ca_file.empty()) c.ca_file = demo.ca_file;
    if (c.token.empty()) c.token = demo.token;
  }
  if (c.ca_file.empty()) {
    return core::InvalidArgument("no CA file to verify " + c.url + " (pass --ca or set EDWC_CA)",
                                 "ca");
  }
  if (c.token.empty()) {
    return core::InvalidArgument(
        "no " + std::string(role) + " token (pass --token or set EDWC_TOKEN)", "token");
  }
  return c;
}

std::string ApiErrorLine(int status, std::string_view body) {
  std::string message;
  if (auto doc = core::ParseJsonObject(body); doc.ok()) {
    if (const json::value* e = doc->if_contains("error"); e != nullptr && e->is_object()) {
      message = StringAt(e->as_object(), "message");
      const std::string field = StringAt(e->as_object(), "field");
      if (!field.empty() && message.find(field) == std::string::npos) {
        message = field + ": " + message;
      }
    }
  }
  if (message.empty()) {
    std::string_view b = body;
    while (!b.empty() && std::isspace(static_cast<unsigned char>(b.back()))) b.remove_suffix(1);
    if (b.size() > 200) b = b.substr(0, 200);
    message = b.empty() ? std::string("the server answered") : std::string(b);
  }
  return message + " (" + std::to_string(status) + ")";
}

int ExitCodeForHttpStatus(int status) {
  return status == 400 || status == 401 || status == 403 ? kExitUsage : kExitFailure;
}

std::string QueryEscape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

core::Result<std::unique_ptr<ApiClient>> ApiClient::Create(const Connection& connection,
                                                           std::chrono::milliseconds timeout) {
  auto client =
      gateway::HttpsClient::Create(connection.url, {connection.ca_file, "", "", false}, timeout);
  if (!client.ok()) return client.status().WithContext(connection.url);
  return std::unique_ptr<ApiClient>(new ApiClient(connection, std::move(*client)));
}

core::Result<gateway::HttpResponse> ApiClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    std::vector<std::pair<std::string, std::string>> headers) {
  headers.emplace_back("authorization", "Bearer " + connection_.token);
  if (!body.empty()) headers.emplace_back("content-type", "application/json");
  auto r = client_->Request(method, target, body, headers);
  if (!r.ok()) return r.status().WithContext(connection_.url);
  return r;
}

}  // namespace edwc::cli
