// `edwc ledger list|show|balances|export|verify`: the settlements between this center and
// the others as its finance API shows them (docs/cli.md, "Settlements and finance"). Every
// verb needs a token with the finance role. Every failure is one line on stderr; --json
// prints the server's JSON as it came.
#include <strings.h>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/ledger_format.h"
#include "cli/verb.h"
#include "core/ids.h"
#include "core/json.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr char kRole[] = "finance";

constexpr char kUsage[] = R"(Usage:
  edwc ledger list [--peer C] [--kind K] [--state S] [--direction D] [--from T] [--to T]
                   [--limit N] [--after CURSOR] [--all] [--json | --csv]
  edwc ledger show ID [--json]
  edwc ledger balances [--from T] [--to T] [--json]
  edwc ledger export --peer C [--from T] [--to T] [--format csv|json] [-o FILE]
  edwc ledger verify [--json]
Each accepts the connection flags (a finance token) and --help.
)";

constexpr char kPeriodHelp[] =
    "  --from T, --to T   the period [T1, T2) on period_end: RFC 3339 or a China date\n"
    "                     YYYY-MM-DD (00:00 UTC+8); default: unbounded\n";

constexpr char kListHelp[] =
    R"(Usage: edwc ledger list [--peer C] [--kind K] [--state S] [--direction D] [--from T]
                        [--to T] [--limit N] [--after CURSOR] [--all] [--json | --csv]

Lists the settlements this center holds, as a table: DAY ID DIRECTION COUNTERPARTY KIND
QUANTITY AMOUNT (CNY) STATE. DIRECTION is receivable when the counterparty owes us (we did
the work), payable when we owe it.
  --peer C           only settlements with center C
  --kind K           compute or egress
  --state S          offered (not yet answered), agreed (both signed) or disputed
  --direction D      receivable or payable
)"
    "%s"
    R"(  --limit N          at most N per page (1 to 1000; default: the server's, 100)
  --after CURSOR     the page after CURSOR (printed under a full page)
  --all              follow the cursor to the last page
  --json             print the JSON answer of GET /v1/settlements
  --csv              print CSV as the server renders it (with --all: one header)
Example:
  edwc ledger list --peer zhongwei --state disputed --from 2026-11-01 --to 2026-12-01
)";

constexpr char kShowHelp[] = R"(Usage: edwc ledger show ID [--json]

Prints one settlement: what it is for, its amount, its place in the chain, whether each
side has signed it and, when disputed, the fields that differ, the reason and the
payer's own amount.
  --json             print the JSON answer of GET /v1/settlements/ID
Example:
  edwc ledger show compute/hold_01JDZ6Q3W8N4V5T7X9Y2K3M4P5
)";

constexpr char kBalancesHelp[] = R"(Usage: edwc ledger balances [--from T] [--to T] [--json]

Prints this center's position with each counterparty over agreed settlements:
COUNTERPARTY RECEIVABLE PAYABLE NET DISPUTED PENDING, and a TOTAL line. NET > 0 is owed
to us. DISPUTED (+ receivable, - payable) and PENDING (offered, not yet answered) are not
in the other columns; a count of records follows them in parentheses.
)"
                                 "%s"
                                 R"(  --json             print the JSON answer of GET /v1/balances
Example:
  edwc ledger balances --from 2026-11-01 --to 2026-12-01
)";

constexpr char kExportHelp[] =
    R"(Usage: edwc ledger export --peer C [--from T] [--to T] [--format csv|json] [-o FILE]

Writes the invoice-ready statement with center C (GET /v1/statements/C): the agreed
settlements as lines, totals per kind and direction and the net; disputed settlements
are listed apart and not in the totals.
  --peer C           the counterparty (required)
)"
    "%s"
    R"(  --format F         csv (default: lines, a blank line, then the totals) or json
  -o, --output FILE  write to FILE (through FILE.part, renamed when complete);
                     default or -: stdout
Example:
  edwc ledger export --peer zhongwei --from 2026-11-01 --to 2026-12-01 -o nov.csv
)";

constexpr char kVerifyHelp[] = R"(Usage: edwc ledger verify [--json]

Checks every hash chain of the ledger (one per payee and payer): sequence numbers without
gaps or repeats, each record's hash and its link to the one before. One line per chain:
  ok  east -> west  42 records  head 3f2a9c1b…
  BROKEN east -> west at record 7: prev_hash does not match record 6
  --json             print the JSON answer of GET /v1/ledger/verify
Example:
  edwc ledger verify
Exit status: 0 when every chain holds, 1 when one is broken.
)";

// argv with -o spelled --output.
struct LongArgv {
  std::vector<std::string> words;
  std::vector<char*> argv;
  LongArgv(int argc, char** raw) {
    for (int i = 0; i < argc; ++i) {
      words.push_back(std::string(raw[i]) == "-o" ? "--output" : raw[i]);
    }
    for (std::string& w : words) argv.push_back(w.data());
  }
};

std::optional<int> Parse(int argc, char** argv, Args* args, size_t positional, const Verb& verb) {
  LongArgv long_argv(argc, argv);
  args->AllowPositional(positional);
  if (auto st = args->Parse(static_cast<int>(long_argv.argv.size()), long_argv.argv.data(), 3);
      !st.ok()) {
    return verb.Usage(st.message());
  }
  return std::nullopt;
}

std::optional<int> Prepare(int argc, char** argv, Args* args, const std::string& help, Verb* verb) {
  if (auto done = Parse(argc, argv, args, 0, *verb)) return *done;
  return PrepareVerb(*args, help.c_str(), 0, "", 0, kRole, verb);
}

// Settlement ids hold '/' ("compute/hold_..."), which PrepareVerb's IsPlainId refuses: it
// checks the help and the count, this the id, then the same flags and connection.
std::optional<int> PrepareWithId(int argc, char** argv, Args* args, const char* help, Verb* verb) {
  if (auto done = Parse(argc, argv, args, 1, *verb)) return *done;
  if (args->Has("help") || args->positional().size() != 1) {
    return PrepareVerb(*args, help, 1, "settlement", 300, kRole, verb);
  }
  const std::string& id = args->positional()[0];
  if (!IsSettlementId(id)) {
    return verb->Usage("'" + id + "' is not a settlement id (compute/HOLD or egress/ID/CENTER)");
  }
  verb->json = args->Has("json");
  auto connection = ResolveConnection(*args, kRole);
  if (!connection.ok()) return verb->Usage(connection.status().message());
  auto client = ApiClient::Create(*connection);
  if (!client.ok()) return verb->Usage(client.status().message());
  verb->client = std::move(*client);
  return std::nullopt;
}

// The help texts with the period options in place of their %s.
std::string WithPeriodHelp(const char* help) {
  std::string out(help);
  if (const size_t at = out.find("%s"); at != std::string::npos) out.replace(at, 2, kPeriodHelp);
  return out;
}

// --name's value when it is one of `allowed` (or absent); an error message otherwise.
std::optional<std::string> AddChoice(const Args& args, const std::string& name,
                                     const std::set<std::string>& allowed, Params* params) {
  auto value = args.Get(name);
  if (!value) return std::nullopt;
  if (!allowed.count(*value)) {
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return "--" + name + ": '" + *value + "' is not one of " + list;
  }
  params->emplace_back(name, *value);
  return std::nullopt;
}

std::optional<std::string> HeaderValue(const gateway::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  }
  return std::nullopt;
}

int List(int argc, char** argv) {
  Verb verb{"edwc ledger list"};
  Args args =
      MakeArgs(verb.name, {"peer", "kind", "state", "direction", "from", "to", "limit", "after"},
               {"all", "csv"});
  if (auto done = Prepare(argc, argv, &args, WithPeriodHelp(kListHelp), &verb)) return *done;
  const bool csv = args.Has("csv");
  if (csv && verb.json) return verb.Usage("--json and --csv: choose one");
  Params params;
  if (auto peer = args.Get("peer")) {
    if (!core::IsValidCenterId(*peer))
      return verb.Usage("--peer: '" + *peer + "' is not a center id");
    params.emplace_back("peer", *peer);
  }
  if (auto e = AddChoice(args, "kind", {"compute", "egress"}, &params)) return verb.Usage(*e);
  if (auto e = AddChoice(args, "state", {"offered", "agreed", "disputed"}, &params)) {
    return verb.Usage(*e);
  }
  if (auto e = AddChoice(args, "direction", {"receivable", "payable"}, &params)) {
    return verb.Usage(*e);
  }
  if (auto e = AddPeriodParams(args.Get("from"), args.Get("to"), &params)) return verb.Usage(*e);
  auto limit = args.GetInt("limit", 0, 1, 1000);
  if (!limit.ok()) return verb.Usage(limit.status().message());
  if (*limit > 0) params.emplace_back("limit", std::to_string(*limit));
  if (csv) params.emplace_back("format", "csv");
  const bool all = args.Has("all");
  std::string after = args.Get("after").value_or("");
  json::array settlements;
  for (bool first = true;; first = false) {
    Params page_params = params;
    page_params.emplace_back("after", after);
    auto r = verb.client->Request("GET", WithQuery("/v1/settlements", page_params));
    if (!r.ok()) return verb.Fail(r.status().message());
    if (r->status != 200) return verb.FailHttp(*r);
    std::string next;
    std::optional<json::object> page;
    if (csv) {
      next = HeaderValue(*r, "x-next-cursor").value_or("");
      const std::string_view text = first ? std::string_view(r->body) : CsvWithoutHeader(r->body);
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      auto doc = core::ParseJsonObject(r->body);
      if (!doc.ok()) return verb.Fail("unreadable answer: " + doc.status().message());
      if (const json::value* n = doc->if_contains("next"); n != nullptr && n->is_string()) {
        next = std::string(n->as_string());
      }
      page = std::move(*doc);
    }
    if (!all) {
      if (verb.json) {
        PrintBody(r->body);
      } else if (!csv) {
        std::fputs(RenderSettlementList(json::value(*page)).c_str(), stdout);
      }
      if (!next.empty() && !verb.json) {
        // With --csv the note goes to stderr so that stdout stays CSV.
        std::fprintf(csv ? stderr : stdout, "(more: edwc ledger list ... --after %s)\n",
                     next.c_str());
      }
      return kExitOk;
    }
    if (page) {
      if (const json::value* s = page->if_contains("settlements"); s && s->is_array()) {
        for (const json::value& v : s->as_array()) settlements.push_back(v);
      }
    }
    if (next.empty()) break;
    if (next == after) return verb.Fail("the server answered the same cursor twice: " + next);
    after = std::move(next);
  }
  if (csv) return kExitOk;
  const json::value merged(json::object{{"settlements", std::move(settlements)}});
  if (verb.json) {
    std::printf("%s\n", json::serialize(merged).c_str());
  } else {
    std::fputs(RenderSettlementList(merged).c_str(), stdout);
  }
  return kExitOk;
}

int Show(int argc, char** argv) {
  Verb verb{"edwc ledger show"};
  Args args = MakeArgs(verb.name, {}, {});
  if (auto done = PrepareWithId(argc, argv, &args, kShowHelp, &verb)) return *done;
  const std::string id = args.positional()[0];
  return PrintAnswer(verb, verb.client->Request("GET", SettlementTarget(id)), RenderSettlement,
                     nullptr, "settlement '" + id + "'");
}

int Balances(int argc, char** argv) {
  Verb verb{"edwc ledger balances"};
  Args args = MakeArgs(verb.name, {"from", "to"}, {});
  if (auto done = Prepare(argc, argv, &args, WithPeriodHelp(kBalancesHelp), &verb)) return *done;
  Params params;
  if (auto e = AddPeriodParams(args.Get("from"), args.Get("to"), &params)) return verb.Usage(*e);
  return PrintAnswer(verb, verb.client->Request("GET", WithQuery("/v1/balances", params)),
                     RenderBalances);
}

// Writes `bytes` to `path` through path.part, renamed at the end; nothing is left behind
// on failure. An error message on failure.
std::optional<std::string> WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string part = path + ".part";
  std::FILE* f = std::fopen(part.c_str(), "wb");
  if (f == nullptr) return "cannot write " + part + ": " + std::strerror(errno);
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool flushed = std::fflush(f) == 0;
  const int saved = errno;
  const bool closed = std::fclose(f) == 0;
  if (!written || !flushed || !closed) {
    std::remove(part.c_str());
    return "cannot write " + part + ": " + std::strerror(saved != 0 ? saved : errno);
  }
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    const int renamed = errno;
    std::remove(part.c_str());
    return "cannot write " + path + ": " + std::strerror(renamed);
  }
  return std::nullopt;
}

int Export(int argc, char** argv) {
  Verb verb{"edwc ledger export"};
  Args args = MakeArgs(verb.name, {"peer", "from", "to", "format", "output"}, {}, false);
  if (auto done = Prepare(argc, argv, &args, WithPeriodHelp(kExportHelp), &verb)) return *done;
  auto peer = args.Require("peer");
  if (!peer.ok()) return verb.Usage(peer.status().message());
  if (!core::IsValidCenterId(*peer))
    return verb.Usage("--peer: '" + *peer + "' is not a center id");
  Params params;
  if (auto e = AddPeriodParams(args.Get("from"), args.Get("to"), &params)) return verb.Usage(*e);
  if (!args.Has("format")) params.emplace_back("format", "csv");
  if (auto e = AddChoice(args, "format", {"csv", "json"}, &params)) return verb.Usage(*e);
  const std::string path = args.Get("output").value_or("-");
  if (path.empty()) return verb.Usage("--output needs a file name (or - for stdout)");
  auto r = verb.client->Request("GET", WithQuery("/v1/statements/" + *peer, params));
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r);
  if (path == "-") {
    PrintBody(r->body);
    return std::fflush(stdout) == 0 ? kExitOk : verb.Fail("cannot write stdout");
  }
  if (auto e = WriteFileAtomically(path, r->body)) return verb.Fail(*e);
  std::printf("wrote the statement with %s to %s (%zu bytes)\n", peer->c_str(), path.c_str(),
              r->body.size());
  return kExitOk;
}

int Verify(int argc, char** argv) {
  Verb verb{"edwc ledger verify"};
  Args args = MakeArgs(verb.name, {}, {});
  if (auto done = Prepare(argc, argv, &args, kVerifyHelp, &verb)) return *done;
  return PrintAnswer(
      verb, verb.client->Request("GET", "/v1/ledger/verify"), RenderVerify,
      [](const json::value& answer) { return LedgerVerified(answer) ? kExitOk : kExitFailure; });
}

}  // namespace

int LedgerCommand(int argc, char** argv) {
  const std::string sub = argc >= 3 ? argv[2] : "";
  if (sub == "list") return List(argc, argv);
  if (sub == "show") return Show(argc, argv);
  if (sub == "balances") return Balances(argc, argv);
  if (sub == "export") return Export(argc, argv);
  if (sub == "verify") return Verify(argc, argv);
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    std::fputs(
        "\nExample:\n  edwc ledger balances --from 2026-11-01 --to 2026-12-01\n"
        "  edwc ledger list --state disputed\n",
        stdout);
    return kExitOk;
  }
  return UnknownSubcommand("edwc ledger", sub, kUsage);
}

}  // namespace edwc::cli
