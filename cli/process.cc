#include "cli/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace edwc::cli {

core::Result<Child> Spawn(const std::vector<std::string>& argv, const std::string& log_file) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return core::IoError(std::string("pipe: ") + strerror(errno));
  int log = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    close(out[0]);
    close(out[1]);
    return core::IoError("open " + log_file + ": " + strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    close(log);
    return core::IoError(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);  // Ctrl-C reaches the demo, which stops the agents in order
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(out[1], STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  close(log);
  return Child{pid, out[0], {}};
}

void AwaitFirstLines(std::vector<Child>& children, std::chrono::steady_clock::time_point deadline,
                     std::vector<std::string>& lines) {
  lines.assign(children.size(), std::string());
  std::vector<bool> done(children.size(), false);
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<size_t> index;
    for (size_t i = 0; i < children.size(); ++i) {
      if (!done[i]) {
        fds.push_back({children[i].stdout_fd, POLLIN, 0});
        index.push_back(i);
      }
    }
    if (fds.empty()) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    int n = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      Child& c = children[index[k]];
      char buf[512];
      ssize_t r = read(c.stdout_fd, buf, sizeof buf);
      if (r <= 0) {
        done[index[k]] = true;  // EOF: the child exited or closed stdout
        continue;
      }
      c.pending.append(buf, static_cast<size_t>(r));
      if (auto nl = c.pending.find('\n'); nl != std::string::npos) {
        lines[index[k]] = c.pending.substr(0, nl);
        c.pending.erase(0, nl + 1);
        done[index[k]] = true;
      }
    }
  }
}

core::Result<std::string> AwaitLine(Child& child, std::string_view prefix,
                                    std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    while (true) {
      auto nl = child.pending.find('\n');
      if (nl == std::string::npos) break;
      std::string line = child.pending.substr(0, nl);
      child.pending.erase(0, nl + 1);
      if (line.rfind(prefix, 0) == 0) return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return core::Status(core::Code::kUnavailable,
                          "timed out awaiting '" + std::string(prefix) + "'");
    }
    pollfd fd{child.stdout_fd, POLLIN, 0};
    int n = poll(&fd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    char buf[1024];
    ssize_t r = read(child.stdout_fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      return core::Status(core::Code::kUnavailable,
                          "output ended before '" + std::string(prefix) + "'");
    }
    child.pending.append(buf, static_cast<size_t>(r));
  }
}

int StopChildren(std::vector<Child>& children, std::chrono::milliseconds grace) {
  for (auto& c : children) {
    if (c.pid > 0) kill(c.pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + grace;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    bool live = false;
    for (auto& c : children) {
      if (c.pid <= 0) continue;
      pid_t r = waitpid(c.pid, nullptr, WNOHANG);
      if (r == c.pid || (r < 0 && errno == ECHILD)) {
        c.pid = -1;
      } else {
        live = true;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!live || left.count() <= 0) break;
    timespec ts{static_cast<time_t>(left.count() / 1000000000),
                static_cast<long>(left.count() % 1000000000)};
    sigtimedwait(&chld, nullptr, &ts);  // wakes at the next child exit or the deadline
  }
  int killed = 0;
  for (auto& c : children) {
    if (c.pid > 0) {
      kill(c.pid, SIGKILL);
      waitpid(c.pid, nullptr, 0);
      ++killed;
    }
    c.pid = -1;
    if (c.stdout_fd >= 0) close(c.stdout_fd);
    c.stdout_fd = -1;
  }
  return killed;
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "edwc";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace edwc::cli
