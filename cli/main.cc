// edwc: the East-Data-West-Computing federation gateway. See README.md.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/commands.h"

#ifndef EDWC_VERSION
#define EDWC_VERSION "0.0.0-dev"
#endif

namespace {

constexpr std::string_view kUsage = R"(edwc: the East-Data-West-Computing federation gateway

Usage:
  edwc demo [--centers N] [--base-port P] [--dir D] [--prepare-only] [--workload none] [--fresh]
        Start a local federation of N centers (default 4), each its own gateway process.
  edwc centers [--demo DIR | --url URL --ca FILE --token T] [--json]
        The federation view of one center: every center, liveness, free compute, prices.
  edwc quote (--model M | --min-tflops N --min-memory GIB) --duration D [--count N] [...]
        Ranked offers for a request from every center, with costs and exclusions.
  edwc job submit [request flags] [--name N] [--env K=V]... [--wait] -- COMMAND...
  edwc job list | show ID | cancel ID | watch ID | output ID [-o FILE]
        Place a job on the best center, list, inspect, cancel and follow jobs; fetch output.
  edwc dataset put FILE [--name N] [--zone Z] [--tag T]... | get NAME [-o FILE]
  edwc dataset list | show NAME | rm NAME
        Upload, download, list, inspect and delete datasets at the home center.
  edwc transfer start --dataset D --from C --to C [--wait]
  edwc transfer list | show ID | cancel ID | watch ID
        Copy a dataset between centers (residency-checked) and follow it.
  edwc ledger list [--peer C] [--state S] [--from T] [--to T] [--all] [--json | --csv]
  edwc ledger show ID | balances | export --peer C [-o FILE] | verify
        Settlements with other centers: list, inspect, balances, statements, chain checks.
  edwc reconcile PEER [--from T] [--to T]
        Compare our settlements with PEER's day by day; list every discrepancy.
  edwc netting [--from T] [--to T]
        Net every center's position and the fewest payments that settle them.
  edwc agent --config FILE [--check]
        Run one center's gateway; --check validates the configuration and exits.
  edwc certs init-ca --dir D [--force]
        Create a development federation CA (D/ca.pem, D/ca.key).
  edwc certs issue --ca D --center ID --out D2 [--dns NAME]... [--ip ADDR]...
        Issue a center certificate (SAN URI edwc://center/ID) signed by the CA in D.
  edwc version

The client verbs connect with --url, --ca and --token, else EDWC_URL, EDWC_CA and
EDWC_TOKEN, else the config file ~/.config/edwc/cli.yaml (--config-file, EDWC_CLI_CONFIG),
else ./edwc-demo/demo.json. Exit codes: 0 ok, 1 failure, 2 bad usage or configuration.
Each command accepts --help. Docs: README.md, docs/cli.md, docs/configuration.md, docs/api.md.
)";

}  // namespace

int main(int argc, char** argv) {
  // A peer that goes away mid-write must be an error value, not a dead process.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    std::fputs(kUsage.data(), stderr);
    return edwc::cli::kExitUsage;
  }
  std::string_view cmd = argv[1];
  if (cmd == "agent") return edwc::cli::AgentCommand(argc, argv);
  if (cmd == "certs") return edwc::cli::CertsCommand(argc, argv);
  if (cmd == "demo") return edwc::cli::DemoCommand(argc, argv);
  if (cmd == "centers") return edwc::cli::CentersCommand(argc, argv);
  if (cmd == "quote") return edwc::cli::QuoteCommand(argc, argv);
  if (cmd == "job") return edwc::cli::JobCommand(argc, argv);
  if (cmd == "dataset") return edwc::cli::DatasetCommand(argc, argv);
  if (cmd == "transfer") return edwc::cli::TransferCommand(argc, argv);
  if (cmd == "ledger") return edwc::cli::LedgerCommand(argc, argv);
  if (cmd == "reconcile") return edwc::cli::ReconcileCommand(argc, argv);
  if (cmd == "netting") return edwc::cli::NettingCommand(argc, argv);
  if (cmd == "version" && argc >= 3 && std::string_view(argv[2]) == "--help") {
    std::fputs("Usage: edwc version\n\nPrints the version of edwc.\n\nExample:\n  edwc version\n",
               stdout);
    return 0;
  }
  if (cmd == "version" || cmd == "--version") {
    std::printf("edwc %s\n", EDWC_VERSION);
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  std::fprintf(stderr, "edwc: unknown command '%s'\n\n%s", argv[1], kUsage.data());
  return edwc::cli::kExitUsage;
}
