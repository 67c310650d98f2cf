// Where a client verb connects and with which bearer token. Every verb that talks to a
// gateway's api listener (`centers`, `quote`, `job`) declares the same options:
//   --demo DIR   DIR/demo.json written by `edwc demo` (default ./edwc-demo): the home
//                center's api_url, the federation CA and one token per role
//   --url URL, --ca FILE, --token TOKEN
//   --config-file FILE   the CLI config file (default $EDWC_CLI_CONFIG, else
//                        $XDG_CONFIG_HOME/edwc/cli.yaml, else ~/.config/edwc/cli.yaml)
// and falls back to the environment (EDWC_URL, EDWC_CA, EDWC_TOKEN) and the config file
// (keys url, ca, token, tokens: {viewer, broker, finance, operator}). Precedence, per
// value: its flag; then, when --demo is given explicitly, demo.json; then the
// environment; then the config file; then ./edwc-demo/demo.json. docs/cli.md.
//
// ApiClient wraps gateway::HttpsClient with the token and turns error answers into one
// line ("no job 'x' (404)"). Not thread-safe; one per command.
#pragma once

#include <boost/json/fwd.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/args.h"
#include "core/status.h"
#include "gateway/http_client.h"

namespace edwc::cli {

struct Connection {
  std::string url;  // "https://host:port"
  std::string ca_file;
  std::string token;  // bearer token
};

// The valued options ResolveConnection reads; add them to a verb's Args.
std::set<std::string> ConnectionOptions();

// Text for a verb's --help describing the options above; `role` names the token needed.
std::string ConnectionHelp(std::string_view role);

// Looks up `env_name`; empty when unset. Injected so that tests need no real environment.
using EnvLookup = std::string (*)(const char* env_name);
std::string RealEnv(const char* env_name);

// The CLI config file (docs/cli.md): every value optional; a relative `ca` is resolved
// against the file's directory.
struct CliConfig {
  std::string path;  // the file read
  std::string url;
  std::string ca_file;
  std::string token;                          // any role
  std::map<std::string, std::string> tokens;  // role -> token

  // tokens[role], else token.
  std::string TokenFor(std::string_view role) const;
};

// Where the config file is: --config-file, else EDWC_CLI_CONFIG, else
// $XDG_CONFIG_HOME/edwc/cli.yaml, else $HOME/.config/edwc/cli.yaml. `named` is true for
// the first two (then the file must exist). Empty path when nothing applies.
struct CliConfigLocation {
  std::string path;
  bool named = false;
};
CliConfigLocation FindCliConfig(const Args& args, EnvLookup env = &RealEnv);

// Parses the text of a config file named `file` (for messages). Strict: an unknown or
// duplicate key, a value of the wrong shape or a YAML syntax error is kInvalidArgument
// "FILE:LINE:COLUMN: KEY: message" (the first problem only: one line).
core::Result<CliConfig> ParseCliConfig(std::string_view text, const std::string& file);

// Reads and parses `path`. A file holding a token that its group or others may read or
// write is refused (like ssh with a private key). A missing file is kNotFound.
core::Result<CliConfig> LoadCliConfig(const std::string& path);

// Resolves the connection for a verb that needs a token of `role` ("viewer", "broker").
// kInvalidArgument (a usage error) when something is missing, demo.json is unreadable or
// the config file is invalid (see LoadCliConfig).
core::Result<Connection> ResolveConnection(const Args& args, std::string_view role,
                                           EnvLookup env = &RealEnv);

// From a parsed demo.json: the home center's api_url (the entry with "home": true, else the
// first), ca_file and tokens[role]. Missing pieces are left empty.
Connection ConnectionFromDemoJson(const boost::json::object& demo, std::string_view role);

// One line for an HTTP error answer: the server's error message when the body is the
// {"error":{...}} shape (with the field when it names one), else the body trimmed;
// always followed by " (STATUS)".
std::string ApiErrorLine(int status, std::string_view body);

// The exit code for an error answer: 2 (usage) for 400, 401 and 403, which a corrected
// command line or token fixes; 1 for anything else.
int ExitCodeForHttpStatus(int status);

// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
std::string QueryEscape(std::string_view value);

class ApiClient {
 public:
  static core::Result<std::unique_ptr<ApiClient>> Create(
      const Connection& connection, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // One request with the bearer token (and a JSON content type when there is a body).
  // Connection failures are kUnavailable naming the URL.
  core::Result<gateway::HttpResponse> Request(
      std::string_view method, std::string_view target, std::string_view body = {},
      std::vector<std::pair<std::string, std::string>> headers = {});

  const std::string& url() const { return connection_.url; }

 private:
  ApiClient(Connection connection, std::unique_ptr<gateway::HttpsClient> client)
      : connection_(std::move(connection)), client_(std::move(client)) {}
  Connection connection_;
  std::unique_ptr<gateway::HttpsClient> client_;
};

}  // namespace edwc::cli
