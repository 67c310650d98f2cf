// The `edwc` subcommands. Each takes argv from its own name on and returns the process
// exit code: 0 success, 1 failure at run time, 2 bad usage or invalid configuration.
#pragma once

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

}  // namespace edwc::cli
