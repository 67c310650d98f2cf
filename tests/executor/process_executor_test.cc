// The process executor with real child processes. Synchronisation is on the JobEnded
// callback (a condition variable), with generous timeouts only as failure bounds.
#include "executor/process_executor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/executor/job_ends.h"

namespace edwc::executor {
namespace {

using State = JobOutcome::State;
using namespace std::chrono_literals;

// Makes a FIFO at `path` (creating its directory) and returns the first line a writer
// puts in it, waiting up to `within`; "" on timeout. The job writes its pid there.
std::string ReadLineFromFifo(const std::filesystem::path& path, std::chrono::milliseconds within) {
  std::filesystem::create_directories(path.parent_path());
  if (::mkfifo(path.c_str(), 0600) != 0) return "";
  // Non-blocking, so the open does not wait for a writer; a FIFO that no writer opened
  // yet polls as not readable (no POLLHUP) on Linux.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "";
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (line.empty() || line.back() != '\n') {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n > 0) line.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return line;
}

// Whether `pid` ends within `within`: `pidfd` (opened while it ran) becomes readable when
// it exits. The executor signals the job's group before reporting its end, but the
// members die a moment later. A killed grandchild is reparented (to init or a subreaper)
// and may stay a zombie until reaped there, which kill(pid, 0) still finds.
bool Gone(pid_t pid, int pidfd, std::chrono::milliseconds within = 10s) {
  pollfd p{.fd = pidfd, .events = POLLIN, .revents = 0};
  if (::poll(&p, 1, static_cast<int>(within.count())) != 1) return false;
  if (::kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  if (content.empty()) return true;
  const char state = content[content.rfind(')') + 2];
  return state == 'Z' || state == 'X';
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

pid_t PidFromLine(const std::string& line) {
  return line.empty() || line.back() != '\n' ? 0 : std::stoi(line);
}

class ProcessExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("edwc-process-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    executor_ = MakeProcessExecutor(ends_.Callback(), &clock_);
  }
  void TearDown() override {
    executor_.reset();
    std::filesystem::remove_all(dir_);
  }

  JobLaunch Launch(const std::string& id, std::vector<std::string> argv) {
    return JobLaunch{.id = id,
                     .argv = std::move(argv),
                     .env = {},
                     .model = "a100-80g",
                     .devices = {2, 3},
                     .time_limit = {},
                     .work_dir = (dir_ / id).string()};
  }

  std::string Read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  core::SystemClock clock_;
  Ends ends_;
  std::filesystem::path dir_;
  JobExecutorPtr executor_;
};

TEST_F(ProcessExecutorTest, SucceedsWithDeviceVariablesAndOutputFiles) {
  JobLaunch launch = Launch(
      "job-1", {"sh", "-c",
                "echo \"$CUDA_VISIBLE_DEVICES $EDWC_DEVICES $EDWC_JOB_ID $EXTRA\" > devices; "
                "echo out; echo err >&2; read x || echo eof"});
  launch.env = {{"EXTRA", "x y"}};
  auto started = executor_->Start(launch);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_NE(started->ref.find(':'), std::string::npos) << started->ref;
  std::optional<JobOutcome> end = ends_.Await("job-1", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kSucceeded) << end->message;
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_EQ(end->term_signal, 0);
  EXPECT_EQ(end->message, "exit 0");
  EXPECT_EQ(end->started, started->started);
  EXPECT_LE(end->started, end->ended);
  EXPECT_EQ(Read(dir_ / "job-1" / "devices"), "2,3 2,3 job-1 x y\n");
  EXPECT_EQ(Read(dir_ / "job-1" / "stdout.log"), "out\neof\n");
  EXPECT_EQ(Read(dir_ / "job-1" / "stderr.log"), "err\n");
  EXPECT_EQ(ends_.Calls("job-1"), 1);
}

TEST_F(ProcessExecutorTest, VendorVariables) {
  EXPECT_EQ(VisibleDevicesVariable("h800"), "CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(VisibleDevicesVariable("ascend-910b"), "ASCEND_RT_VISIBLE_DEVICES");
  EXPECT_EQ(VisibleDevicesVariable("hygon-dcu-k100"), "HIP_VISIBLE_DEVICES");
  EXPECT_EQ(VisibleDevicesVariable("cambricon-mlu370-x8"), "MLU_VISIBLE_DEVICES");
  EXPECT_EQ(VisibleDevicesVariable("no-such"), "");

  JobLaunch launch = Launch("ascend", {"sh", "-c", "echo \"${ASCEND_RT_VISIBLE_DEVICES}\" > d"});
  launch.model = "ascend-910b";
  launch.devices = {0, 1, 2, 3};
  ASSERT_TRUE(executor_->Start(launch).ok());
  std::optional<JobOutcome> end = ends_.Await("ascend", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kSucceeded) << end->message;
  EXPECT_EQ(Read(dir_ / "ascend" / "d"), "0,1,2,3\n");
}

TEST_F(ProcessExecutorTest, NonZeroExitFails) {
  ASSERT_TRUE(executor_->Start(Launch("exit-3", {"sh", "-c", "exit 3"})).ok());
  std::optional<JobOutcome> end = ends_.Await("exit-3", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kFailed);
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_EQ(end->message, "exit 3");
}

TEST_F(ProcessExecutorTest, MissingCommandFailsWith127) {
  auto started = executor_->Start(Launch("missing", {"edwc-no-such-command", "arg"}));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::optional<JobOutcome> end = ends_.Await("missing", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kFailed);
  EXPECT_EQ(end->exit_code, 127);
  EXPECT_NE(end->message.find("edwc-no-such-command"), std::string::npos) << end->message;
  EXPECT_NE(end->message.find("No such file"), std::string::npos) << end->message;
}

TEST_F(ProcessExecutorTest, TimeLimitKillsTheJob) {
  JobLaunch launch = Launch("slow", {"sleep", "30"});
  launch.time_limit = 300ms;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(executor_->Start(launch).ok());
  std::optional<JobOutcome> end = ends_.Await("slow", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(end->state, State::kFailed);
  EXPECT_EQ(end->term_signal, SIGTERM);
  EXPECT_NE(end->message.find("time limit 300ms exceeded"), std::string::npos) << end->message;
  EXPECT_GE(end->ended - end->started, 300ms);
}

TEST_F(ProcessExecutorTest, SigkillFollowsAnIgnoredSigtermAfterTheGrace) {
  executor_ =
      MakeProcessExecutor(ends_.Callback(), &clock_, ProcessExecutorOptions{.kill_grace = 200ms});
  // An ignored signal stays ignored across exec, so sleep ignores SIGTERM too.
  JobLaunch launch = Launch("stubborn", {"sh", "-c", "trap '' TERM; sleep 30"});
  launch.time_limit = 100ms;
  ASSERT_TRUE(executor_->Start(launch).ok());
  std::optional<JobOutcome> end = ends_.Await("stubborn", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kFailed);
  EXPECT_EQ(end->term_signal, SIGKILL) << end->message;
  EXPECT_GE(end->ended - end->started, 300ms);
  EXPECT_NE(end->message.find("time limit 100ms exceeded"), std::string::npos) << end->message;
}

TEST_F(ProcessExecutorTest, ChildDoesNotInheritOtherDescriptors) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as careless code might
  ASSERT_GE(leaked, 3);
  const std::string fd = std::to_string(leaked);
  ASSERT_TRUE(executor_
                  ->Start(Launch(
                      "fds", {"sh", "-c", "test -e /proc/$$/fd/0 && test ! -e /proc/$$/fd/" + fd}))
                  .ok());
  std::optional<JobOutcome> end = ends_.Await("fds", 20s);
  ::close(leaked);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kSucceeded) << "fd " << fd << " leaked: " << end->message;
}

TEST_F(ProcessExecutorTest, CancelStopsTheJob) {
  ASSERT_TRUE(executor_->Start(Launch("long", {"sleep", "30"})).ok());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(executor_->Cancel("long").ok());
  std::optional<JobOutcome> end = ends_.Await("long", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(end->state, State::kCancelled) << end->message;
  EXPECT_LE(end->started, end->ended);
  EXPECT_EQ(executor_->Cancel("long").code(), core::Code::kNotFound);
  EXPECT_EQ(executor_->Cancel("never-started").code(), core::Code::kNotFound);
}

TEST_F(ProcessExecutorTest, CancelKillsGrandchildren) {
  // The shell prints its background child's pid, then waits for it.
  std::thread reader;
  std::string line;
  reader = std::thread([&] { line = ReadLineFromFifo(dir_ / "tree" / "pid", 20s); });
  // The FIFO must exist before the job writes it: wait for the reader to make it.
  while (!std::filesystem::exists(dir_ / "tree" / "pid")) std::this_thread::yield();
  ASSERT_TRUE(
      executor_->Start(Launch("tree", {"sh", "-c", "sleep 30 & echo $! > pid; wait"})).ok());
  reader.join();
  const pid_t grandchild = PidFromLine(line);
  ASSERT_GT(grandchild, 0);
  const int pidfd = PidfdOpen(grandchild);
  ASSERT_GE(pidfd, 0);
  ASSERT_TRUE(executor_->Cancel("tree").ok());
  std::optional<JobOutcome> end = ends_.Await("tree", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kCancelled);
  EXPECT_TRUE(Gone(grandchild, pidfd));
  ::close(pidfd);
}

TEST_F(ProcessExecutorTest, DuplicateIdAndBadLaunchAreRejected) {
  ASSERT_TRUE(executor_->Start(Launch("dup", {"sleep", "30"})).ok());
  EXPECT_EQ(executor_->Start(Launch("dup", {"true"})).status().code(), core::Code::kAlreadyExists);
  EXPECT_EQ(executor_->Start(Launch("bad/id", {"true"})).status().code(),
            core::Code::kInvalidArgument);
  EXPECT_EQ(executor_->Start(Launch("empty", {})).status().code(), core::Code::kInvalidArgument);
  JobLaunch no_dir = Launch("no-dir", {"true"});
  no_dir.work_dir.clear();
  EXPECT_EQ(executor_->Start(no_dir).status().code(), core::Code::kInvalidArgument);
  // Destroying the executor (TearDown) kills "dup" without reporting it.
}

TEST_F(ProcessExecutorTest, DestroyKillsRunningJobs) {
  std::string line;
  std::thread reader([&] { line = ReadLineFromFifo(dir_ / "left" / "pid", 20s); });
  while (!std::filesystem::exists(dir_ / "left" / "pid")) std::this_thread::yield();
  ASSERT_TRUE(
      executor_->Start(Launch("left", {"sh", "-c", "sleep 30 & echo $! > pid; wait"})).ok());
  reader.join();
  const pid_t pid = PidFromLine(line);
  ASSERT_GT(pid, 0);
  const int pidfd = PidfdOpen(pid);
  ASSERT_GE(pidfd, 0);
  executor_.reset();
  EXPECT_TRUE(Gone(pid, pidfd));
  ::close(pidfd);
  EXPECT_EQ(ends_.Calls("left"), 0);
}

// A process started by the test itself, in its own session, as a previous gateway's job.
// Returns once it has exec'd (so setsid is done): the CLOEXEC pipe reads EOF then. With
// `job`, its only environment is EDWC_JOB_ID=<job>, as a job of the executor has it.
pid_t StartOrphan(const std::string& job = "") {
  std::string env = "EDWC_JOB_ID=" + job;
  char* envp[] = {env.data(), nullptr};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    if (job.empty()) {
      ::execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
    } else {
      ::execle("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr), envp);
    }
    ::_exit(127);
  }
  ::close(fds[1]);
  char c;
  while (::read(fds[0], &c, 1) < 0 && errno == EINTR) {
  }
  ::close(fds[0]);
  return pid;
}

TEST_F(ProcessExecutorTest, RecoverKillsALiveProcessAndReportsItLost) {
  const pid_t pid = StartOrphan();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::getpgid(pid), pid);
  auto ref = ProcessRef(pid);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  executor_->Recover({{"old-job", *ref}});
  std::optional<JobOutcome> end = ends_.Await("old-job", 20s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kFailed);
  EXPECT_EQ(end->message, "lost at restart");
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(ends_.Calls("old-job"), 1);
}

// The gateway died between a job's spawn and the record of its ref: the job is found by its
// environment, killed and reported lost; another job's process is left alone.
TEST_F(ProcessExecutorTest, RecoverWithoutARefKillsWhatRunsTheJob) {
  const pid_t unrecorded = StartOrphan("unrecorded-job");
  const pid_t other = StartOrphan("other-job");
  ASSERT_GT(unrecorded, 0);
  ASSERT_GT(other, 0);
  executor_->Recover({{"unrecorded-job", ""}, {"never-spawned", ""}});
  for (const char* id : {"unrecorded-job", "never-spawned"}) {
    std::optional<JobOutcome> end = ends_.Await(id, 20s);
    ASSERT_TRUE(end.has_value()) << id;
    EXPECT_EQ(end->state, State::kFailed);
    EXPECT_EQ(end->message, "lost at restart");
    EXPECT_EQ(ends_.Calls(id), 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(unrecorded, &status, 0), unrecorded);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(::waitpid(other, &status, WNOHANG), 0) << "another job's process was killed";
  ::kill(other, SIGKILL);
  ::waitpid(other, &status, 0);
}

TEST_F(ProcessExecutorTest, RecoverStaleRefReportsLost) {
  // A ref whose pid is alive (this test) but whose start time differs, and one whose
  // process is gone: neither is signalled.
  auto self = ProcessRef(::getpid());
  ASSERT_TRUE(self.ok());
  const std::string wrong_start = std::to_string(::getpid()) + ":1";
  executor_->Recover({{"stale", wrong_start}, {"gone", "999999999:5"}, {"garbage", "x"}});
  for (const char* id : {"stale", "gone", "garbage"}) {
    std::optional<JobOutcome> end = ends_.Await(id, 20s);
    ASSERT_TRUE(end.has_value()) << id;
    EXPECT_EQ(end->state, State::kFailed);
    EXPECT_EQ(end->message, "lost at restart");
    EXPECT_LE(end->started, end->ended);
  }
}

}  // namespace
}  // namespace edwc::executor
