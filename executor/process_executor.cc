#include "executor/process_executor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "core/fd.h"
#include "core/log.h"

extern char** environ;

namespace edwc::executor {

namespace {

constexpr std::string_view kLog = "process";
using Steady = std::chrono::steady_clock;

// glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++; the raw system call is simpler.
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string Errno(std::string_view what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

using core::Fd;

// Field `n` (3 or later) of /proc/<pid>/stat as a number; nullopt when there is no such
// process.
std::optional<uint64_t> ProcStatField(pid_t pid, int n) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Field 2 (comm) is in parentheses and may hold spaces or ')': split after the last ')'.
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= n; ++i) {
    if (!(fields >> field)) return std::nullopt;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return value;
}

// Start time of `pid` in clock ticks after boot (field 22).
std::optional<uint64_t> ProcStartTime(pid_t pid) { return ProcStatField(pid, 22); }

// For a job whose start was never recorded (the gateway died between the spawn and the
// record): every process still running it, known by EDWC_JOB_ID=<id> in its environment
// (fixed at exec), is sent SIGKILL with its session (the job's own, from setsid). Returns
// the one to watch until it is gone, as (pid, start time): the job's first process (its
// session's leader) when it is left, else any; nullopt when none is left.
std::optional<std::pair<pid_t, uint64_t>> KillLeftoversOf(const std::string& id) {
  const std::string named = "EDWC_JOB_ID=" + id;
  const pid_t own_session = ::getsid(0);
  std::optional<std::pair<pid_t, uint64_t>> watch;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    auto [end, bad] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (bad != std::errc() || end != name.data() + name.size() || pid <= 1) continue;
    std::ifstream in(entry.path() / "environ", std::ios::binary);
    bool runs_it = false;
    for (std::string var; !runs_it && std::getline(in, var, '\0');) runs_it = var == named;
    const std::optional<uint64_t> session = ProcStatField(pid, 6), start = ProcStartTime(pid);
    if (!runs_it || !session || !start) continue;
    const auto sid = static_cast<pid_t>(*session);
    if (sid > 1 && sid != own_session) ::kill(-sid, SIGKILL);
    ::kill(pid, SIGKILL);
    if (!watch || sid == pid) watch = std::make_pair(pid, *start);
  }
  return watch;
}

std::string FormatRef(pid_t pid, uint64_t start) {
  return std::to_string(pid) + ":" + std::to_string(start);
}

// "pid:starttime" -> (pid, starttime); nullopt when malformed.
std::optional<std::pair<pid_t, uint64_t>> ParseRef(std::string_view ref) {
  size_t colon = ref.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  pid_t pid = 0;
  uint64_t start = 0;
  std::string_view a = ref.substr(0, colon), b = ref.substr(colon + 1);
  auto [pend, pec] = std::from_chars(a.data(), a.data() + a.size(), pid);
  auto [send, sec] = std::from_chars(b.data(), b.data() + b.size(), start);
  if (pec != std::errc() || pend != a.data() + a.size() || sec != std::errc() ||
      send != b.data() + b.size() || pid <= 1) {
    return std::nullopt;
  }
  return std::make_pair(pid, start);
}

std::string FormatDuration(core::Duration d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string JoinDevices(const std::vector<int32_t>& devices) {
  std::string out;
  for (int32_t d : devices) {
    if (!out.empty()) out += ',';
    out += std::to_string(d);
  }
  return out;
}

// The executable, argv and environment of a job's process.
struct ChildPlan {
  std::string path;  // the executable; empty when argv[0] was not found in PATH
  std::vector<std::string> argv_store, env_store;
  std::vector<char*> argv, envp;
};

std::string ResolveInPath(const std::string& name, const std::string& path_var) {
  if (name.find('/') != std::string::npos) return name;
  std::string_view rest = path_var;
  while (true) {
    size_t colon = rest.find(':');
    // Built by appends: GCC 12 warns falsely (-Wrestrict, bug 105651) on `dir + "/" + name`.
    std::string candidate(rest.substr(0, colon));
    if (candidate.empty()) candidate = ".";
    candidate += '/';
    candidate += name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) return "";
    rest.remove_prefix(colon + 1);
  }
}

ChildPlan PlanChild(const JobLaunch& launch) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [key, value] : launch.env) env[key] = value;
  env["EDWC_JOB_ID"] = launch.id;
  env["EDWC_DEVICES"] = JoinDevices(launch.devices);
  if (std::string_view var = VisibleDevicesVariable(launch.model); !var.empty()) {
    env[std::string(var)] = JoinDevices(launch.devices);
  }
  ChildPlan plan;
  auto path_var = env.find("PATH");
  plan.path = ResolveInPath(
      launch.argv[0], path_var != env.end() ? path_var->second : "/usr/local/bin:/usr/bin:/bin");
  plan.argv_store = launch.argv;
  for (const auto& [key, value] : env) plan.env_store.push_back(key + "=" + value);
  for (std::string& a : plan.argv_store) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (std::string& e : plan.env_store) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  return plan;
}

// Runs `plan` in a new process (SpawnJobProcess): no descriptor of the gateway's (sockets,
// RocksDB's files) goes with it.
int Spawn(const ChildPlan& plan, int dir, int in, int out, int err, pid_t* pid) {
  return SpawnJobProcess(plan.path.c_str(), plan.argv.data(), plan.envp.data(), dir, in, out, err,
                         pid);
}

}  // namespace

int SpawnJobProcess(const char* path, char* const argv[], char* const envp[], int dir, int in,
                    int out, int err, pid_t* pid) {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  ::posix_spawnattr_init(&attr);  // glibc's two inits cannot fail
  ::posix_spawn_file_actions_init(&actions);
  sigset_t none, all;
  sigemptyset(&none);
  // Not sigfillset: it leaves out glibc's internal signals (32, 33), which posix_spawn
  // would then leave ignored in the new program.
  std::memset(&all, 0xff, sizeof(all));
  int rc = ::posix_spawnattr_setflags(
      &attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0) rc = ::posix_spawnattr_setsigmask(&attr, &none);
  if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&actions, in, 0);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&actions, out, 1);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&actions, err, 2);
  if (rc == 0) rc = ::posix_spawn_file_actions_addfchdir_np(&actions, dir);
  if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  if (rc == 0) rc = ::posix_spawn(pid, path, &actions, &attr, argv, envp);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  return rc;
}

namespace {

core::Status ValidateLaunch(const JobLaunch& launch) {
  if (!ValidJobId(launch.id)) {
    return core::InvalidArgument("must be 1-128 chars of [A-Za-z0-9._-]", "id");
  }
  if (launch.argv.empty() || launch.argv[0].empty()) {
    return core::InvalidArgument("must name a command", "argv");
  }
  if (launch.work_dir.empty()) return core::InvalidArgument("must not be empty", "work_dir");
  if (!launch.model.empty() && core::FindAccelerator(launch.model) == nullptr) {
    return core::InvalidArgument("unknown accelerator model '" + launch.model + "'", "model");
  }
  for (const auto& [key, value] : launch.env) {
    if (key.empty() || key.find_first_of("=") != std::string::npos ||
        key.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return core::InvalidArgument("bad variable '" + key + "'", "env");
    }
  }
  for (const std::string& a : launch.argv) {
    if (a.find('\0') != std::string::npos) return core::InvalidArgument("holds NUL", "argv");
  }
  return core::Status::Ok();
}

class ProcessExecutor final : public JobExecutor {
 public:
  ProcessExecutor(JobEnded on_end, const core::Clock* clock, ProcessExecutorOptions options)
      : on_end_(std::move(on_end)),
        clock_(clock),
        options_(options),
        wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (wake_.get() < 0) core::LogError(kLog, Errno("eventfd", errno));
    thread_ = std::thread([this] { Run(); });
  }

  ~ProcessExecutor() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (auto& [id, job] : jobs_) {
        if (!job.recovered) ::kill(-job.pid, SIGKILL);
      }
    }
    Wake();
    thread_.join();
    for (auto& [id, job] : jobs_) {
      if (job.recovered) continue;
      siginfo_t info{};
      while (::waitid(P_PID, static_cast<id_t>(job.pid), &info, WEXITED) < 0 && errno == EINTR) {
      }
    }
  }

  core::Result<StartedJob> Start(const JobLaunch& launch) override;
  core::Status Cancel(const std::string& id) override;
  void Recover(const std::vector<std::pair<std::string, std::string>>& running) override;

 private:
  enum class Stop { kNone, kCancel, kTimeLimit };

  struct Job {
    pid_t pid = 0;
    Fd pidfd;
    core::Time started;
    core::Duration time_limit{};
    std::optional<Steady::time_point> limit_at;  // when the time limit passes
    std::optional<Steady::time_point> kill_at;   // when SIGKILL follows SIGTERM
    Stop stop = Stop::kNone;
    bool recovered = false;  // not our child: found by Recover(), being killed
  };

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = ::write(wake_.get(), &one, sizeof(one));
    (void)ignored;
  }

  // Sends `sig` to the job's process group. REQUIRES: mu_ held and the job not yet reaped
  // (so its pid, the group's id, cannot have been reused).
  static void SignalGroup(const Job& job, int sig) {
    if (::kill(-job.pid, sig) != 0 && errno == ESRCH) ::kill(job.pid, sig);
  }

  // A job whose command cannot be executed (`err`): no process, reported ended at once.
  core::Result<StartedJob> StartedUnexecutable(const JobLaunch& launch, int err);
  void Run();
  // Time limits and kill graces; returns the poll timeout until the next one (-1: none).
  int ApplyDeadlinesLocked();
  // The outcome of job `id` whose pidfd `pidfd` became readable; nullopt if it has not
  // exited yet (or `id` is now another job).
  std::optional<JobOutcome> ReapLocked(const std::string& id, int pidfd);
  std::optional<JobOutcome> CollectLocked(Job& job);

  const JobEnded on_end_;
  const core::Clock* const clock_;
  const ProcessExecutorOptions options_;
  Fd wake_;  // eventfd

  std::mutex mu_;
  bool stopping_ = false;                                    // GUARDED_BY(mu_)
  std::map<std::string, Job> jobs_;                          // GUARDED_BY(mu_)
  std::set<std::string> starting_;                           // GUARDED_BY(mu_)
  std::vector<std::pair<std::string, JobOutcome>> reports_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

core::Result<StartedJob> ProcessExecutor::Start(const JobLaunch& launch) {
  EDWC_RETURN_IF_ERROR(ValidateLaunch(launch));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return core::Status(core::Code::kUnavailable, "executor is shutting down");
    if (jobs_.contains(launch.id) || !starting_.insert(launch.id).second) {
      return core::Status(core::Code::kAlreadyExists, "job '" + launch.id + "' is running", "id");
    }
  }
  struct Unreserve {
    ProcessExecutor* self;
    const std::string& id;
    ~Unreserve() {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->starting_.erase(id);
    }
  } unreserve{this, launch.id};

  std::error_code ec;
  std::filesystem::create_directories(launch.work_dir, ec);
  if (ec) return core::IoError("cannot create " + launch.work_dir + ": " + ec.message());
  // Opened here, so that the spawn's only failures are the exec's (or the clone's).
  Fd dir(::open(launch.work_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) return core::IoError(Errno("cannot open " + launch.work_dir, errno));
  Fd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  Fd out(::openat(dir.get(), "stdout.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  Fd err(::openat(dir.get(), "stderr.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (in.get() < 0 || out.get() < 0 || err.get() < 0) {
    return core::IoError(Errno("cannot open the job's stdio in " + launch.work_dir, errno));
  }
  const ChildPlan plan = PlanChild(launch);

  pid_t pid = 0;
  const int rc =
      plan.path.empty() ? ENOENT : Spawn(plan, dir.get(), in.get(), out.get(), err.get(), &pid);
  // These mean the system is short of processes or memory, not that the command is bad.
  if (rc == EAGAIN || rc == ENOMEM) return core::IoError(Errno("posix_spawn", rc));
  if (rc != 0) return StartedUnexecutable(launch, rc);
  Job job;
  job.pid = pid;
  job.pidfd = Fd(PidfdOpen(pid));
  if (job.pidfd.get() < 0) {
    const int pidfd_errno = errno;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    siginfo_t info{};
    ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED);
    return core::IoError(Errno("pidfd_open", pidfd_errno));
  }
  // posix_spawn returns after the exec; the child is not reaped yet, so /proc shows it.
  const std::string ref = FormatRef(pid, ProcStartTime(pid).value_or(0));
  job.started = clock_->Now();
  job.time_limit = launch.time_limit;
  if (launch.time_limit.count() > 0) job.limit_at = Steady::now() + launch.time_limit;
  const core::Time started = job.started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.emplace(launch.id, std::move(job));
  }
  Wake();
  return StartedJob{.ref = ref, .started = started};
}

core::Result<StartedJob> ProcessExecutor::StartedUnexecutable(const JobLaunch& launch, int err) {
  const core::Time now = clock_->Now();
  JobOutcome outcome{.state = JobOutcome::State::kFailed,
                     .exit_code = 127,  // as a shell reports it
                     .started = now,
                     .ended = now,
                     .message = Errno("cannot execute '" + launch.argv[0] + "'", err)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    reports_.emplace_back(launch.id, std::move(outcome));
  }
  Wake();
  return StartedJob{.ref = FormatRef(0, 0), .started = now};
}

core::Status ProcessExecutor::Cancel(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.recovered) {
      return core::NotFound("no running job '" + id + "'", "id");
    }
    Job& job = it->second;
    if (job.stop != Stop::kNone) return core::Status::Ok();  // already stopping
    job.stop = Stop::kCancel;
    job.limit_at.reset();
    SignalGroup(job, SIGTERM);
    job.kill_at = Steady::now() + options_.kill_grace;
  }
  Wake();
  return core::Status::Ok();
}

void ProcessExecutor::Recover(const std::vector<std::pair<std::string, std::string>>& running) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, ref] : running) {
      if (jobs_.contains(id)) {
        core::LogWarn(kLog, "recover: job '" + id + "' is already running here; ignored");
        continue;
      }
      JobOutcome lost{.state = JobOutcome::State::kFailed,
                      .started = clock_->Now(),
                      .ended = clock_->Now(),
                      .message = "lost at restart"};
      std::optional<std::pair<pid_t, uint64_t>> parsed =
          ref.empty() ? KillLeftoversOf(id) : ParseRef(ref);
      Fd pidfd;
      if (parsed && ProcStartTime(parsed->first) == parsed->second) {
        pidfd = Fd(PidfdOpen(parsed->first));
        // Checked again after opening the pidfd: the pid could have been reused between.
        if (pidfd.get() < 0 || ProcStartTime(parsed->first) != parsed->second) pidfd.Reset(-1);
      }
      if (pidfd.get() < 0) {
        reports_.emplace_back(id, std::move(lost));
        continue;
      }
      Job job;
      job.pid = parsed->first;
      job.pidfd = std::move(pidfd);
      job.started = lost.started;
      job.recovered = true;
      SignalGroup(job, SIGKILL);
      ::kill(job.pid, SIGKILL);
      core::LogInfo(kLog, "recover: killed job '" + id + "' (" +
                              (ref.empty() ? "its start unrecorded" : ref) + ") left from before");
      jobs_.emplace(id, std::move(job));
    }
  }
  Wake();
}

int ProcessExecutor::ApplyDeadlinesLocked() {
  const Steady::time_point now = Steady::now();
  std::optional<Steady::time_point> next;
  for (auto& [id, job] : jobs_) {
    if (job.limit_at && now >= *job.limit_at) {
      job.limit_at.reset();
      job.stop = Stop::kTimeLimit;
      SignalGroup(job, SIGTERM);
      job.kill_at = now + options_.kill_grace;
    }
    if (job.kill_at && now >= *job.kill_at) {
      job.kill_at.reset();
      SignalGroup(job, SIGKILL);
    }
    for (const auto& at : {job.limit_at, job.kill_at}) {
      if (at && (!next || *at < *next)) next = *at;
    }
  }
  if (!next) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
}

std::optional<JobOutcome> ProcessExecutor::CollectLocked(Job& job) {
  JobOutcome outcome;
  outcome.started = job.started;
  if (job.recovered) {
    outcome.ended = clock_->Now();
    outcome.message = "lost at restart";
    return outcome;
  }
  // Group members left behind by the leader (daemonized helpers, `cmd &`) go with it;
  // the unreaped leader keeps the group id from being reused.
  ::kill(-job.pid, SIGKILL);
  siginfo_t info{};
  int rc;
  while ((rc = ::waitid(P_PID, static_cast<id_t>(job.pid), &info, WEXITED | WNOHANG)) < 0 &&
         errno == EINTR) {
  }
  if (rc < 0) {
    core::LogError(kLog, Errno("waitid " + std::to_string(job.pid), errno));
    info.si_code = CLD_KILLED;
    info.si_status = SIGKILL;
  } else if (info.si_pid == 0) {
    return std::nullopt;
  }
  outcome.ended = clock_->Now();
  if (outcome.ended < outcome.started) outcome.ended = outcome.started;
  std::string detail;
  if (info.si_code == CLD_EXITED) {
    outcome.exit_code = info.si_status;
    detail = "exit " + std::to_string(info.si_status);
  } else {
    outcome.term_signal = info.si_status;
    detail = "killed by signal " + std::to_string(info.si_status);
  }
  if (job.stop == Stop::kCancel) {
    outcome.state = JobOutcome::State::kCancelled;
    outcome.message = "cancelled (" + detail + ")";
  } else if (job.stop == Stop::kTimeLimit) {
    outcome.state = JobOutcome::State::kFailed;
    outcome.message = "time limit " + FormatDuration(job.time_limit) + " exceeded (" + detail + ")";
  } else {
    const bool ok = info.si_code == CLD_EXITED && info.si_status == 0;
    outcome.state = ok ? JobOutcome::State::kSucceeded : JobOutcome::State::kFailed;
    outcome.message = detail;
  }
  return outcome;
}

std::optional<JobOutcome> ProcessExecutor::ReapLocked(const std::string& id, int pidfd) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second.pidfd.get() != pidfd) return std::nullopt;
  std::optional<JobOutcome> outcome = CollectLocked(it->second);
  if (outcome) jobs_.erase(it);
  return outcome;
}

void ProcessExecutor::Run() {
  for (;;) {
    std::vector<std::pair<std::string, JobOutcome>> ended;
    std::vector<pollfd> fds;
    std::vector<std::string> ids;
    int timeout = -1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      ended.swap(reports_);
      timeout = ApplyDeadlinesLocked();
      for (const auto& [id, job] : jobs_) {
        fds.push_back(pollfd{.fd = job.pidfd.get(), .events = POLLIN, .revents = 0});
        ids.push_back(id);
      }
    }
    for (auto& [id, outcome] : ended) on_end_(id, std::move(outcome));
    if (!ended.empty()) continue;  // the callbacks may have started or ended jobs
    fds.push_back(pollfd{.fd = wake_.get(), .events = POLLIN, .revents = 0});
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) {
      core::LogError(kLog, Errno("poll", errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (fds.back().revents != 0) {
      uint64_t count;
      ssize_t ignored = ::read(wake_.get(), &count, sizeof(count));
      (void)ignored;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (std::optional<JobOutcome> outcome = ReapLocked(ids[i], fds[i].fd)) {
        reports_.emplace_back(ids[i], std::move(*outcome));
      }
    }
  }
}

}  // namespace

JobExecutorPtr MakeProcessExecutor(JobEnded on_end, const core::Clock* clock,
                                   ProcessExecutorOptions options) {
  return std::make_unique<ProcessExecutor>(std::move(on_end), clock, options);
}

core::Result<std::string> ProcessRef(pid_t pid) {
  std::optional<uint64_t> start = ProcStartTime(pid);
  if (!start) return core::NotFound("no process " + std::to_string(pid));
  return FormatRef(pid, *start);
}

}  // namespace edwc::executor
