// Verb: one invocation of a client subcommand ("edwc job show"): its name for messages,
// its API client and output flags, and the one-line errors every verb prints
// (docs/cli.md: "edwc job show: no job 'x' (404)").
#pragma once

#include <boost/json/fwd.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "cli/commands.h"
#include "cli/connection.h"
#include "core/status.h"
#include "gateway/http_types.h"

namespace edwc::cli {

struct Verb {
  std::string name;
  std::unique_ptr<ApiClient> client;
  bool json = false;
  bool quiet = false;
  int interval_ms = 500;

  // Bad usage: exit 2.
  int Usage(const std::string& message) const;
  // A failure at run time: exit 1.
  int Fail(const std::string& message) const;
  // A non-2xx answer: one line; `what` names the object for a 404 ("job 'x'").
  int FailHttp(const gateway::HttpResponse& r, const std::string& what = {}) const;
};

class Args;

// After a verb's arguments parsed: --help (with the connection flags for `role`), the
// number of positional arguments (and, for one, that it is an id of `id_kind`, e.g.
// "job", checked with IsPlainId(id, id_max)), --json, --quiet, --interval, and the API
// client. Returns the exit code when the verb is done already (help, bad usage).
std::optional<int> PrepareVerb(const Args& args, const char* help, size_t positional,
                               std::string_view id_kind, size_t id_max, std::string_view role,
                               Verb* verb);

// A verb's arguments: its own valued options and flags, the connection options, --help
// and (unless `json` is false) --json.
Args MakeArgs(const std::string& name, std::set<std::string> valued, std::set<std::string> flags,
              bool json = true);

// The body as it came, then a newline if it lacks one (JSON), for a terminal.
void PrintBody(const std::string& body);

// The end of most reading verbs: an answer `r` that is not 200 fails (one line; `what`
// as in FailHttp); with --json its body is printed as is; else `render` of the parsed
// body. Returns `ok_code` of the parsed body (default: exit 0) or the failure's exit code.
int PrintAnswer(const Verb& verb, const core::Result<gateway::HttpResponse>& r,
                const std::function<std::string(const boost::json::value&)>& render,
                const std::function<int(const boost::json::value&)>& ok_code = nullptr,
                const std::string& what = {});

// An id as the server mints them (job_..., xfer_...): 1..max_length of [A-Za-z0-9._-].
bool IsPlainId(std::string_view id, size_t max_length);

// "edwc job: which one?" or "unknown subcommand" with the usage, on stderr; exit 2.
int UnknownSubcommand(std::string_view verb, const std::string& sub, const char* usage);

}  // namespace edwc::cli
