// The `edwc` subcommands. Each takes argv from its own name on and returns the process
// exit code: 0 success, 1 failure at run time, 2 bad usage or invalid configuration.
#pragma once

#include <string>

namespace edwc::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int AgentCommand(int argc, char** argv);
int CertsCommand(int argc, char** argv);
int DemoCommand(int argc, char** argv);
int CentersCommand(int argc, char** argv);
int QuoteCommand(int argc, char** argv);
int JobCommand(int argc, char** argv);
int DatasetCommand(int argc, char** argv);
int TransferCommand(int argc, char** argv);
// Settlements and finance (docs/cli.md): `edwc ledger ...`, `edwc reconcile PEER`,
// `edwc netting`.
int LedgerCommand(int argc, char** argv);
int ReconcileCommand(int argc, char** argv);
int NettingCommand(int argc, char** argv);

// Shared by `dataset get`, `transfer watch` and `job output`. Errors are one line on
// stderr prefixed with `verb`; the result is the exit code.
class ApiClient;
struct Connection;

// GET /v1/datasets/{name} into `path` ("-": stdout) through `path`.part, renamed at the
// end; a whole download is checked against X-Edwc-Sha256 (a mismatch fails, exit 1).
// `range` is a Range header value or empty. A progress bar on stderr unless `quiet`.
int DownloadDataset(const std::string& verb, const Connection& connection, const std::string& name,
                    const std::string& path, const std::string& range, bool quiet);

// Polls GET /v1/transfers/{id} every `interval_ms`, redrawing a progress bar, until the
// transfer is done (exit 0), failed or cancelled (exit 1).
int WatchTransfer(const std::string& verb, ApiClient& client, const std::string& id,
                  int interval_ms, bool quiet);

}  // namespace edwc::cli
