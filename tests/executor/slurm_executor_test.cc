// The slurm executor against a real slurmctld + slurmd + slurmrestd started by
// scripts/slurm-env (the CTest fixture `slurm`, in EDWC_SLURM_DIR): gres.conf has
// gpu:a100:8 and gpu:h800:4. Jobs run as nobody (slurmrestd's user), so each test's
// work_dir is a 0777 directory under /tmp.
#include "executor/slurm_executor.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

#include "executor/slurm_capacity.h"

#include "tests/executor/job_ends.h"

namespace edwc::executor {
namespace {

using State = JobOutcome::State;
using namespace std::chrono_literals;

std::string Dir() {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::canonical(EDWC_SLURM_DIR, ec);
  return ec ? std::string(EDWC_SLURM_DIR) : dir.string();
}

class SlurmExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/edwc-slurm-job.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    ::chmod(dir_.c_str(), 0777);  // the jobs run as nobody
    auto executor = MakeSlurmExecutor(Options(), ends_.Callback(), &clock_);
    ASSERT_TRUE(executor.ok()) << executor.status().ToString();
    executor_ = std::move(*executor);
  }
  void TearDown() override {
    executor_.reset();
    std::filesystem::remove_all(dir_);
  }

  static SlurmExecutorOptions Options() {
    SlurmExecutorOptions o;
    o.socket_path = Dir() + "/rest/slurmrestd.sock";
    o.poll = 200ms;
    o.model_gres = {{"a100-80g", "a100"}, {"h800", "h800"}};
    return o;
  }

  // A work dir nobody can write: made here, mode 0777.
  std::string WorkDir(const std::string& id) {
    std::filesystem::path d = std::filesystem::path(dir_) / id;
    std::filesystem::create_directories(d);
    ::chmod(d.c_str(), 0777);
    return d.string();
  }

  JobLaunch Launch(const std::string& id, std::vector<std::string> argv, int devices = 2) {
    JobLaunch l;
    l.id = id;
    l.argv = std::move(argv);
    l.model = "a100-80g";
    for (int i = 0; i < devices; ++i) l.devices.push_back(i);
    l.time_limit = 90s;  // 2 minutes in Slurm
    l.work_dir = WorkDir(id);
    return l;
  }

  static std::string Read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  core::SystemClock clock_;
  Ends ends_;
  std::string dir_;
  JobExecutorPtr executor_;
};

TEST(SlurmBatchScriptTest, QuotesEveryArgument) {
  EXPECT_EQ(SlurmBatchScript({"sh", "-c", "echo 'a b' $X"}),
            "#!/bin/sh\nexec 'sh' '-c' 'echo '\\''a b'\\'' $X'\n");
}

TEST_F(SlurmExecutorTest, JobWithGpusSucceeds) {
  JobLaunch launch = Launch("gpu-ok", {"sh", "-c",
                                       "echo \"$SLURM_GPUS_ON_NODE $EDWC_JOB_ID $EXTRA ok\" > out; "
                                       "echo to-stdout"});
  launch.env = {{"EXTRA", "x"}};
  auto started = executor_->Start(launch);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_FALSE(started->ref.empty());
  std::optional<JobOutcome> end = ends_.Await("gpu-ok", 60s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kSucceeded) << end->message;
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_LE(end->started, end->ended);
  EXPECT_EQ(Read(launch.work_dir + "/out"), "2 gpu-ok x ok\n");
  EXPECT_EQ(Read(launch.work_dir + "/stdout.log"), "to-stdout\n");
  EXPECT_EQ(ends_.Calls("gpu-ok"), 1);
}

TEST_F(SlurmExecutorTest, FailingJobFails) {
  auto started = executor_->Start(Launch("fail", {"sh", "-c", "exit 3"}, 0));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::optional<JobOutcome> end = ends_.Await("fail", 60s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kFailed);
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_NE(end->message.find("FAILED"), std::string::npos) << end->message;
}

TEST_F(SlurmExecutorTest, CancelledJobIsCancelledAndHeldGpusShowInCapacity) {
  SlurmCapacityOptions capacity_options;
  capacity_options.socket_path = Options().socket_path;
  capacity_options.refresh = 200ms;
  capacity_options.gres_models = {{"a100", "a100-80g"}, {"h800", "h800"}};
  auto capacity = MakeSlurmCapacity(capacity_options);
  ASSERT_TRUE(capacity.ok()) << capacity.status().ToString();
  std::mutex mu;
  std::condition_variable changed;
  (*capacity)->OnChange([&] {
    std::lock_guard<std::mutex> lock(mu);
    changed.notify_all();
  });
  auto h800_used = [&]() -> int32_t {
    auto r = (*capacity)->Read();
    if (!r.ok()) return -1;
    for (const ModelCapacity& m : *r) {
      if (m.model == "h800") return m.used;
    }
    return -1;
  };

  JobLaunch launch = Launch("long", {"sleep", "300"}, 3);
  launch.model = "h800";
  auto started = executor_->Start(launch);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  {
    std::unique_lock<std::mutex> lock(mu);
    EXPECT_TRUE(changed.wait_for(lock, 60s, [&] { return h800_used() == 3; }))
        << "h800 used " << h800_used();
  }
  ASSERT_TRUE(executor_->Cancel("long").ok());
  std::optional<JobOutcome> end = ends_.Await("long", 60s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kCancelled) << end->message;
  EXPECT_LE(end->started, end->ended);
  EXPECT_EQ(executor_->Cancel("long").code(), core::Code::kNotFound);
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(changed.wait_for(lock, 60s, [&] { return h800_used() == 0; }));
}

TEST_F(SlurmExecutorTest, RecoverFollowsTheSlurmJob) {
  JobLaunch launch = Launch("recovered", {"sh", "-c", "exit 0"}, 1);
  auto started = executor_->Start(launch);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  // A new executor (the gateway restarted) is told about the job and reports its end.
  Ends after_restart;
  auto second = MakeSlurmExecutor(Options(), after_restart.Callback(), &clock_);
  ASSERT_TRUE(second.ok());
  (*second)->Recover({{"recovered", started->ref}, {"bad", "not-a-number"}});
  std::optional<JobOutcome> end = after_restart.Await("recovered", 60s);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->state, State::kSucceeded) << end->message;
  std::optional<JobOutcome> bad = after_restart.Await("bad", 60s);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->state, State::kFailed);
}

TEST_F(SlurmExecutorTest, UnmappedModelAndUnreachableSocketAreErrors) {
  JobLaunch launch = Launch("unmapped", {"true"}, 1);
  launch.model = "ascend-910b";
  EXPECT_EQ(executor_->Start(launch).status().code(), core::Code::kInvalidArgument);

  SlurmExecutorOptions o = Options();
  o.socket_path = Dir() + "/rest/no-such.sock";
  auto executor = MakeSlurmExecutor(o, ends_.Callback(), &clock_);
  ASSERT_FALSE(executor.ok());
  EXPECT_EQ(executor.status().code(), core::Code::kUnavailable);
}

}  // namespace
}  // namespace edwc::executor
