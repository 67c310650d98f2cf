// Child processes for `edwc demo`: each center's `edwc agent` runs as its own process
// with stdout on a pipe (for its one "ready" line) and stderr appended to its log file.
// Children get SIGTERM if the demo itself dies (PR_SET_PDEATHSIG), so an interrupted
// demo leaves no gateways behind. Not thread-safe; used from the demo's main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace edwc::cli {

struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;   // read end of the child's stdout
  std::string pending;  // stdout bytes read but not yet a whole line
};

// Starts argv[0] with `argv`, stdout piped, stderr appended to `log_file`, and the
// signals the parent blocked unblocked again.
core::Result<Child> Spawn(const std::vector<std::string>& argv, const std::string& log_file);

// Reads from every child until each has printed a whole line or `deadline` passes.
// lines[i] receives child i's first line; an empty line means the child closed stdout
// (it exited) or the deadline passed.
void AwaitFirstLines(std::vector<Child>& children, std::chrono::steady_clock::time_point deadline,
                     std::vector<std::string>& lines);

// Reads the child's stdout until a line starting with `prefix` (returned, without the
// newline), EOF (kUnavailable) or `deadline` (kUnavailable). Earlier lines are dropped.
core::Result<std::string> AwaitLine(Child& child, std::string_view prefix,
                                    std::chrono::steady_clock::time_point deadline);

// Sends SIGTERM to every live child and waits up to `grace` for all; then SIGKILL.
// Returns how many had to be killed. REQUIRES: SIGCHLD blocked in the calling thread.
int StopChildren(std::vector<Child>& children, std::chrono::milliseconds grace);

// The path of the running executable (/proc/self/exe).
std::string SelfExe();

}  // namespace edwc::cli
