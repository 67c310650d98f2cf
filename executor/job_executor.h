// Job executors: where a center's jobs really run. `process` (process_executor.h) runs each
// job as a child process group of the gateway; `slurm` (slurm_executor.h) submits it to
// Slurm through slurmrestd. The gateway persists the reference Start() returns and, after
// a restart, hands the running jobs' references back to Recover().
//
// Implementations are thread-safe. Start(), Cancel() and Recover() may block (fork/exec,
// an HTTP call): the gateway calls them from a worker thread, never an I/O thread. Each
// executor owns one thread that follows its jobs and calls `JobEnded` exactly once per
// started or recovered job (not for jobs still running when the executor is destroyed:
// those are killed or left to Slurm, and reported by Recover() after the next start).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/accelerator.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::executor {

struct JobLaunch {
  std::string id;                 // job or hold id, unique per center; chars [A-Za-z0-9._-]
  std::vector<std::string> argv;  // the command; argv[0] is looked up in PATH
  // Extra environment, over the gateway's (process) or SlurmExecutorOptions::base_env.
  std::vector<std::pair<std::string, std::string>> env;
  std::string model;             // catalog id; decides the device variable (process)
  std::vector<int32_t> devices;  // indices assigned by the gateway; slurm uses only the count
  // Exceeded: SIGTERM, then SIGKILL after a grace (process); Slurm's limit, in whole
  // minutes rounded up (slurm). Zero: none.
  core::Duration time_limit{};
  std::string work_dir;  // created if missing; stdout.log and stderr.log go there
};

struct JobOutcome {
  enum class State { kSucceeded, kFailed, kCancelled };
  State state = State::kFailed;
  int exit_code = 0;    // when it exited
  int term_signal = 0;  // when a signal ended it
  core::Time started, ended;
  // "exit 0", "killed by signal 9", "time limit 10s exceeded (killed by signal 15)",
  // "lost at restart", "slurm job 12 TIMEOUT (TimeLimit): killed by signal 15", ...
  std::string message;
};

// "succeeded", "failed", "cancelled"
inline std::string_view JobStateName(JobOutcome::State state) {
  switch (state) {
    case JobOutcome::State::kSucceeded:
      return "succeeded";
    case JobOutcome::State::kFailed:
      return "failed";
    case JobOutcome::State::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

struct StartedJob {
  std::string ref;     // persist it: "pid:starttime" (process) or the Slurm job id (slurm)
  core::Time started;  // when it started (process) or was submitted (slurm)
};

// Called from the executor's own thread, with no executor lock held (so it may call
// Start() or Cancel()); must not block long and must not destroy the executor.
using JobEnded = std::function<void(const std::string& id, JobOutcome outcome)>;

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;

  // Starts the job. kInvalidArgument for a bad launch (id chars, empty argv, empty
  // work_dir, unknown model), kAlreadyExists when `id` is still running, kIoError or
  // kUnavailable when it could not be started. A command that cannot be executed (not
  // found) still starts: it ends kFailed with exit code 127 and a message naming it.
  virtual core::Result<StartedJob> Start(const JobLaunch& launch) = 0;

  // Asks a running job to stop; its JobEnded then reports kCancelled. kNotFound when no
  // job `id` is running here.
  virtual core::Status Cancel(const std::string& id) = 0;

  // After a gateway restart: the jobs the store says were running, as (id, ref). Each is
  // reported once through JobEnded. process: the job's process, when it still exists (its
  // pid AND /proc start time match), is killed with its process group; either way it is
  // reported kFailed "lost at restart" (its exit status cannot be re-attached). slurm: the
  // Slurm job is followed again and its real end reported. An empty ref is a job that may
  // have been started without its ref being recorded (the gateway died in between).
  // process: every process whose environment names it (EDWC_JOB_ID) is killed with its
  // session, and it is reported lost as above; slurm: reported lost.
  virtual void Recover(const std::vector<std::pair<std::string, std::string>>& running) = 0;
};

using JobExecutorPtr = std::unique_ptr<JobExecutor>;

// Whether `id` is a valid job id: 1..128 chars of [A-Za-z0-9._-], not "." or "..".
inline bool ValidJobId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// The variable a vendor's runtime reads its visible devices from, by catalog model:
// NVIDIA CUDA_VISIBLE_DEVICES, Huawei ASCEND_RT_VISIBLE_DEVICES, Hygon HIP_VISIBLE_DEVICES,
// Cambricon MLU_VISIBLE_DEVICES; "" for other vendors and unknown models.
inline std::string_view VisibleDevicesVariable(std::string_view model) {
  const core::AcceleratorModel* m = core::FindAccelerator(model);
  if (m == nullptr) return "";
  if (m->vendor == "NVIDIA") return "CUDA_VISIBLE_DEVICES";
  if (m->vendor == "Huawei") return "ASCEND_RT_VISIBLE_DEVICES";
  if (m->vendor == "Hygon") return "HIP_VISIBLE_DEVICES";
  if (m->vendor == "Cambricon") return "MLU_VISIBLE_DEVICES";
  return "";
}

// Creates `dir` (and missing parents) owned like its parent and with its parent's mode,
// so that a job running as another user (Slurm) can use it. An existing `dir` is left as
// it is. Best effort on ownership (a warning is logged); kIoError when it cannot be made.
core::Status MakeDirLikeParent(const std::string& dir);

}  // namespace edwc::executor
