#include "cli/verb.h"

#include <boost/json.hpp>

#include "cli/args.h"
#include "cli/request_flags.h"
#include "core/json.h"

#include <cctype>
#include <cstdio>

namespace edwc::cli {

int Verb::Usage(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n", name.c_str(), message.c_str());
  return kExitUsage;
}

int Verb::Fail(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n", name.c_str(), message.c_str());
  return kExitFailure;
}

int Verb::FailHttp(const gateway::HttpResponse& r, const std::string& what) const {
  if (r.status == 404 && !what.empty()) {
    std::fprintf(stderr, "%s: no %s (404)\n", name.c_str(), what.c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), ApiErrorLine(r.status, r.body).c_str());
  }
  return ExitCodeForHttpStatus(r.status);
}

std::optional<int> PrepareVerb(const Args& args, const char* help, size_t positional,
                               std::string_view id_kind, size_t id_max, std::string_view role,
                               Verb* verb) {
  if (args.Has("help")) {
    std::printf("%sConnection:\n%s", help, ConnectionHelp(role).c_str());
    return kExitOk;
  }
  const std::string kind(id_kind);
  if (args.positional().size() != positional) {
    return verb->Usage(positional == 1 ? "give one " + kind + " id (see --help)"
                                       : "unexpected argument (see --help)");
  }
  if (positional == 1 && !IsPlainId(args.positional()[0], id_max)) {
    return verb->Usage("'" + args.positional()[0] + "' is not a " + kind + " id");
  }
  verb->json = args.Has("json");
  verb->quiet = args.Has("quiet");
  if (auto interval = args.Get("interval")) {
    auto ms = ParseIntervalMillis(*interval);
    if (!ms.ok()) return verb->Usage("--interval: " + ms.status().message());
    verb->interval_ms = static_cast<int>(*ms);
  }
  auto connection = ResolveConnection(args, role);
  if (!connection.ok()) return verb->Usage(connection.status().message());
  auto client = ApiClient::Create(*connection);
  if (!client.ok()) return verb->Usage(client.status().message());
  verb->client = std::move(*client);
  return std::nullopt;
}

bool IsPlainId(std::string_view id, size_t max_length) {
  if (id.empty() || id.size() > max_length) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

int UnknownSubcommand(std::string_view verb, const std::string& sub, const char* usage) {
  const std::string v(verb);
  if (sub.empty()) {
    std::fprintf(stderr, "%s: which one?\n%s", v.c_str(), usage);
  } else {
    std::fprintf(stderr, "%s: unknown subcommand '%s'\n%s", v.c_str(), sub.c_str(), usage);
  }
  return kExitUsage;
}

Args MakeArgs(const std::string& name, std::set<std::string> valued, std::set<std::string> flags,
              bool json) {
  valued.merge(ConnectionOptions());
  flags.insert("help");
  if (json) flags.insert("json");
  return Args(name, std::move(valued), std::move(flags));
}

void PrintBody(const std::string& body) {
  std::fwrite(body.data(), 1, body.size(), stdout);
  if (body.empty() || body.back() != '\n') std::fputc('\n', stdout);
}

int PrintAnswer(const Verb& verb, const core::Result<gateway::HttpResponse>& r,
                const std::function<std::string(const boost::json::value&)>& render,
                const std::function<int(const boost::json::value&)>& ok_code,
                const std::string& what) {
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r, what);
  auto doc = core::ParseJsonObject(r->body);
  if (!doc.ok() && !verb.json) return verb.Fail("unreadable answer: " + doc.status().message());
  const boost::json::value value = doc.ok() ? boost::json::value(std::move(*doc)) : nullptr;
  if (verb.json) {
    PrintBody(r->body);
  } else {
    std::fputs(render(value).c_str(), stdout);
  }
  return ok_code && doc.ok() ? ok_code(value) : kExitOk;
}

}  // namespace edwc::cli
