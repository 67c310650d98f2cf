// Against a real slurmctld + slurmd + slurmrestd started by scripts/slurm-env (the CTest
// fixture `slurm`, in EDWC_SLURM_DIR): gres.conf has gpu:a100:8 and gpu:h800:4.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "executor/slurm_capacity.h"

namespace edwc::executor {
namespace {

// The fixture's directory. scripts/slurm-env may make it a symlink into /tmp (see its
// header); resolved when a test runs, since test discovery runs before the fixture.
std::string Dir() {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::canonical(EDWC_SLURM_DIR, ec);
  return ec ? std::string(EDWC_SLURM_DIR) : dir.string();
}

SlurmCapacityOptions Options() {
  SlurmCapacityOptions o;
  o.socket_path = Dir() + "/rest/slurmrestd.sock";
  o.refresh = std::chrono::milliseconds(200);
  o.gres_models = {{"a100", "a100-80g"}, {"h800", "h800"}};
  return o;
}

// Runs `command` with the fixture's SLURM_CONF; its first output line.
std::string Run(const std::string& command) {
  setenv("SLURM_CONF", (Dir() + "/slurm.conf").c_str(), 1);
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return "";
  char line[256] = {};
  if (fgets(line, sizeof(line), p) == nullptr) line[0] = '\0';
  int rc = pclose(p);
  EXPECT_EQ(rc, 0) << command;
  std::string out(line);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// A batch job, cancelled when it goes out of scope.
class Job {
 public:
  explicit Job(const std::string& gres)
      : id_(Run("sbatch --parsable -o /dev/null --gres=" + gres + " --wrap 'sleep 30'")) {}
  ~Job() { Cancel(); }
  const std::string& id() const { return id_; }
  void Cancel() {
    if (!id_.empty()) Run("scancel " + id_);
    id_.clear();
  }

 private:
  std::string id_;
};

const ModelCapacity* Find(const std::vector<ModelCapacity>& models, std::string_view id) {
  for (const ModelCapacity& m : models) {
    if (m.model == id) return &m;
  }
  return nullptr;
}

// Polls Read() until `model` has `used` GPUs in use or `within` passes.
bool AwaitUsed(CapacitySource& source, std::string_view model, int32_t used,
               std::chrono::seconds within = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    core::Result<std::vector<ModelCapacity>> r = source.Read();
    if (r.ok()) {
      const ModelCapacity* m = Find(*r, model);
      if (m != nullptr && m->used == used) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(SlurmCapacityTest, TotalsPerModelMatchGresConf) {
  auto source = MakeSlurmCapacity(Options());
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  auto r = (*source)->Read();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].model, "a100-80g");
  EXPECT_EQ((*r)[0].total, 8);
  EXPECT_EQ((*r)[1].model, "h800");
  EXPECT_EQ((*r)[1].total, 4);
  EXPECT_TRUE(AwaitUsed(**source, "a100-80g", 0));
  EXPECT_TRUE(AwaitUsed(**source, "h800", 0));
}

TEST(SlurmCapacityTest, RunningJobHoldsGpusUntilCancelled) {
  auto source = MakeSlurmCapacity(Options());
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  ASSERT_TRUE(AwaitUsed(**source, "a100-80g", 0));
  std::atomic<int> changes{0};
  (*source)->OnChange([&] { ++changes; });

  Job job("gpu:a100:2");
  ASSERT_FALSE(job.id().empty());
  EXPECT_TRUE(AwaitUsed(**source, "a100-80g", 2)) << "job " << job.id();
  EXPECT_TRUE(AwaitUsed(**source, "h800", 0));
  EXPECT_GE(changes.load(), 1);

  const int before_cancel = changes.load();
  job.Cancel();
  EXPECT_TRUE(AwaitUsed(**source, "a100-80g", 0));
  EXPECT_GT(changes.load(), before_cancel);
  auto r = (*source)->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].total, 8);
}

TEST(SlurmCapacityTest, UnreachableSocketIsUnavailable) {
  SlurmCapacityOptions o = Options();
  o.socket_path = Dir() + "/rest/no-such.sock";
  auto source = MakeSlurmCapacity(o);
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), core::Code::kUnavailable);
  EXPECT_NE(source.status().message().find(o.socket_path), std::string::npos)
      << source.status().ToString();
  EXPECT_NE(source.status().message().find("connect"), std::string::npos);
}

}  // namespace
}  // namespace edwc::executor
