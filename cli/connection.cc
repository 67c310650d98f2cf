#include "cli/connection.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/commands.h"
#include "config/yaml_document.h"
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
    return core::InvalidArgument(
        "cannot read " + path +
        " (start `edwc demo`, pass --url, --ca and --token, or write a config file: docs/cli.md)");
  }
  Connection c = ConnectionFromDemoJson(*doc, role);
  if (c.url.empty()) return core::InvalidArgument(path + " names no center with an api_url");
  return c;
}

constexpr std::array<std::string_view, 4> kConfigKeys = {"url", "ca", "token", "tokens"};
constexpr std::array<std::string_view, 4> kRoleNames = {"viewer", "broker", "finance", "operator"};

template <size_t N>
std::string JoinNames(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::string_view name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

// "FILE:LINE:COLUMN: KEY: message", as config/load.cc words its errors.
core::Status ConfigError(const std::string& file, const YAML::Mark& mark, const std::string& key,
                         const std::string& message) {
  std::string out = file;
  if (!mark.is_null() && mark.line >= 0) {
    out += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return core::InvalidArgument(out + message, "config-file");
}

// The entries of a map node with only `allowed` keys, each once, each a non-empty string.
template <size_t N>
core::Result<std::map<std::string, std::string>> StringMap(
    const YAML::Node& node, const std::string& file, const std::string& path,
    const std::array<std::string_view, N>& allowed, const std::set<std::string>& nested,
    std::map<std::string, YAML::Node>* nested_nodes) {
  if (!node.IsMap()) {
    return ConfigError(file, node.Mark(), path, "expected a map with keys " + JoinNames(allowed));
  }
  std::map<std::string, std::string> out;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: yaml-cpp's iterator proxy dies with the expression.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) return ConfigError(file, key.Mark(), path, "a key must be plain text");
    const std::string& name = key.Scalar();
    const std::string key_path = path.empty() ? name : path + "." + name;
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return ConfigError(file, key.Mark(), key_path,
                         "unknown key (expected " + JoinNames(allowed) + ")");
    }
    if (!seen.insert(name).second) {
      return ConfigError(file, key.Mark(), key_path, "duplicate key");
    }
    if (nested.count(name) != 0) {
      (*nested_nodes)[name] = value;
      continue;
    }
    if (!value.IsScalar() || value.Scalar().empty()) {
      return ConfigError(file, value.IsNull() ? key.Mark() : value.Mark(), key_path,
                         "expected a non-empty string");
    }
    out[name] = value.Scalar();
  }
  return out;
}

}  // namespace

std::string CliConfig::TokenFor(std::string_view role) const {
  auto it = tokens.find(std::string(role));
  return it != tokens.end() ? it->second : token;
}

CliConfigLocation FindCliConfig(const Args& args, EnvLookup env) {
  if (auto flag = args.Get("config-file")) return {*flag, true};
  if (std::string named = env("EDWC_CLI_CONFIG"); !named.empty()) return {named, true};
  if (std::string xdg = env("XDG_CONFIG_HOME"); !xdg.empty()) {
    return {(std::filesystem::path(xdg) / "edwc" / "cli.yaml").string(), false};
  }
  if (std::string home = env("HOME"); !home.empty()) {
    return {(std::filesystem::path(home) / ".config" / "edwc" / "cli.yaml").string(), false};
  }
  return {};
}

core::Result<CliConfig> ParseCliConfig(std::string_view text, const std::string& file) {
  CliConfig config;
  config.path = file;
  const config::YamlDocument document = config::ParseOneYamlDocument(std::string(text));
  if (document.problem) return ConfigError(file, document.mark, "", *document.problem);
  if (!document.root || document.root->IsNull()) return config;  // empty: no values
  std::map<std::string, YAML::Node> nested;
  EDWC_ASSIGN_OR_RETURN(auto top,
                        StringMap(*document.root, file, "", kConfigKeys, {"tokens"}, &nested));
  config.url = top["url"];
  config.ca_file = top["ca"];
  config.token = top["token"];
  if (auto t = nested.find("tokens"); t != nested.end() && !t->second.IsNull()) {
    EDWC_ASSIGN_OR_RETURN(config.tokens,
                          StringMap(t->second, file, "tokens", kRoleNames, {}, nullptr));
  }
  if (!config.ca_file.empty() && std::filesystem::path(config.ca_file).is_relative()) {
    config.ca_file = (std::filesystem::path(file).parent_path() / config.ca_file).string();
  }
  return config;
}

core::Result<CliConfig> LoadCliConfig(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return core::NotFound(path + ": no such file");
    return core::InvalidArgument(path + ": " + std::strerror(errno), "config-file");
  }
  if (S_ISDIR(st.st_mode)) {
    return core::InvalidArgument(path + ": is a directory, not a config file", "config-file");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return core::InvalidArgument(path + ": cannot read it", "config-file");
  EDWC_ASSIGN_OR_RETURN(CliConfig config, ParseCliConfig(text.str(), path));
  const bool has_token = !config.token.empty() || !config.tokens.empty();
  if (has_token && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return core::InvalidArgument(path + ": permissions " + mode +
                                     " are too open for a file holding tokens (chmod 600 " + path +
                                     ")",
                                 "config-file");
  }
  return config;
}

std::set<std::string> ConnectionOptions() { return {"demo", "url", "ca", "token", "config-file"}; }

std::string ConnectionHelp(std::string_view role) {
  const std::string r(role);
  return "  --demo DIR     read the URL, CA and " + r +
         " token from DIR/demo.json (default ./edwc-demo)\n"
         "  --url URL      a center's api URL, https://host:port (or EDWC_URL)\n"
         "  --ca FILE      the federation CA to verify it (or EDWC_CA)\n"
         "  --token TOKEN  a bearer token with the " +
         r +
         " role (or EDWC_TOKEN)\n"
         "  --config-file FILE\n"
         "                 url, ca and tokens not given otherwise (or EDWC_CLI_CONFIG;\n"
         "                 default ~/.config/edwc/cli.yaml; docs/cli.md)\n";
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
  // The config file: read when it is named, or when a value is still missing.
  const CliConfigLocation where = FindCliConfig(args, env);
  if (!where.path.empty() &&
      (where.named || c.url.empty() || c.ca_file.empty() || c.token.empty())) {
    auto config = LoadCliConfig(where.path);
    if (!config.ok() && (where.named || config.status().code() != core::Code::kNotFound)) {
      return core::InvalidArgument(config.status().message(), "config-file");
    }
    if (config.ok()) {
      if (c.url.empty()) c.url = config->url;
      if (c.ca_file.empty()) c.ca_file = config->ca_file;
      if (c.token.empty()) c.token = config->TokenFor(role);
    }
  }
  if (c.url.empty()) {
    EDWC_ASSIGN_OR_RETURN(Connection demo, ReadDemo("edwc-demo", role));
    c.url = demo.url;
    if (c.ca_file.empty()) c.ca_file = demo.ca_file;
    if (c.token.empty()) c.token = demo.token;
  }
  if (c.ca_file.empty()) {
    return core::InvalidArgument(
        "no CA file to verify " + c.url + " (pass --ca, set EDWC_CA or put ca: in the config file)",
        "ca");
  }
  if (c.token.empty()) {
    return core::InvalidArgument("no " + std::string(role) +
                                     " token (pass --token, set EDWC_TOKEN or put tokens: {" +
                                     std::string(role) + ": ...} in the config file)",
                                 "token");
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
