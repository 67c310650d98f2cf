// `edwc reconcile PEER` and `edwc netting`: the finance checks that span centers
// (docs/cli.md, "Settlements and finance"). The home center does the work (it asks the
// peer, or every center, over the peer listener); these verbs show its answer. Both need
// a token with the finance role. Every failure is one line on stderr.
#include <boost/json.hpp>
#include <cstdio>
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

constexpr char kRole[] = "finance";

constexpr char kReconcileHelp[] = R"(Usage: edwc reconcile PEER [--from T] [--to T] [--json]

Compares this center's settlements with PEER's, day by day (China date of period_end):
the home center fetches PEER's per-day digests, and the records of each day that differs
(POST /v1/reconcile/PEER). Prints the days that differ (records and total on each side),
each discrepancy (missing_here: only PEER has it; missing_there: only we have it;
amount_mismatch; content_mismatch; duplicate) with its fields and both amounts, and a
summary.
  --from T, --to T   the period [T1, T2): RFC 3339 or a China date YYYY-MM-DD
                     (00:00 UTC+8); default: unbounded
  --json             print the JSON answer
Example:
  edwc reconcile zhongwei --from 2026-11-01 --to 2026-12-01
Exit status: 0 when the ledgers match, 1 when they differ or PEER cannot be reached,
2 bad usage.
)";

constexpr char kNettingHelp[] = R"(Usage: edwc netting [--from T] [--to T] [--json]

Multilateral netting over the federation (GET /v1/netting): the home center collects
every center's signed statement of its net positions, and prints each center's position
(CENTER POSITION (CNY) REPORTED; positive: it is owed), the fewest payments that settle
them all ("west pays east 12.34 CNY"), the pairs whose statements disagree, the centers
that could not be reached, and the sum of the positions (always 0.00).
  --from T, --to T   the period [T1, T2): RFC 3339 or a China date YYYY-MM-DD
                     (00:00 UTC+8); default: unbounded
  --json             print the JSON answer
Example:
  edwc netting --from 2026-11-01 --to 2026-12-01
Exit status: 0 when the netting was computed (see disagreements and unreachable for
what it rests on), 1 when it could not be, 2 bad usage.
)";

// Parses argv from argv[2] on, resolves the connection; an exit code when the verb ends
// here (help, bad usage).
std::optional<int> Prepare(int argc, char** argv, size_t positional, const char* help, Args* args,
                           Verb* verb) {
  args->AllowPositional(positional);
  if (auto st = args->Parse(argc, argv, 2); !st.ok()) return verb->Usage(st.message());
  return PrepareVerb(*args, help, positional, "center", 63, kRole, verb);
}

}  // namespace

int ReconcileCommand(int argc, char** argv) {
  Verb verb{"edwc reconcile"};
  Args args = MakeArgs(verb.name, {"from", "to"}, {});
  if (auto done = Prepare(argc, argv, 1, kReconcileHelp, &args, &verb)) return *done;
  const std::string peer = args.positional()[0];
  if (!core::IsValidCenterId(peer)) return verb.Usage("'" + peer + "' is not a center id");
  std::vector<std::pair<std::string, std::string>> period;
  if (auto e = AddPeriodParams(args.Get("from"), args.Get("to"), &period)) return verb.Usage(*e);
  json::object body;
  for (const auto& [key, value] : period) body[key] = value;
  return PrintAnswer(
      verb, verb.client->Request("POST", "/v1/reconcile/" + peer, json::serialize(body)),
      RenderReconcile,
      [](const json::value& answer) { return Reconciled(answer) ? kExitOk : kExitFailure; });
}

int NettingCommand(int argc, char** argv) {
  Verb verb{"edwc netting"};
  Args args = MakeArgs(verb.name, {"from", "to"}, {});
  if (auto done = Prepare(argc, argv, 0, kNettingHelp, &args, &verb)) return *done;
  std::vector<std::pair<std::string, std::string>> period;
  if (auto e = AddPeriodParams(args.Get("from"), args.Get("to"), &period)) return verb.Usage(*e);
  return PrintAnswer(verb, verb.client->Request("GET", WithQuery("/v1/netting", period)),
                     RenderNetting);
}

}  // namespace edwc::cli
