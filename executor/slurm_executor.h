// The `slurm` executor: each job becomes a Slurm batch job submitted through slurmrestd
// (POST /slurm/<api_version>/job/submit over its unix socket, rest_auth/local), named
// "edwc-<id>", whose script execs the job's argv (shell-quoted) in work_dir, with the GRES
// request gpu:<type>:<devices.size()> (type from `model_gres`), the time limit in whole
// minutes rounded up, stdout/stderr to work_dir/stdout.log and stderr.log, and an
// environment of `base_env`, the launch's `env` and EDWC_JOB_ID. Slurm picks the devices
// itself (SLURM_GPUS_ON_NODE, and CUDA_VISIBLE_DEVICES where its gpu plugin sets it); the
// gateway's device indices are not passed on.
//
// One thread polls GET /slurm/<api_version>/job/<slurm id> every `poll` for each job
// followed and reports its end: COMPLETED -> kSucceeded; CANCELLED -> kCancelled; FAILED,
// TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED -> kFailed (the message
// names the state and Slurm's reason); start and end from Slurm's start_time/end_time.
// A job Slurm no longer knows (purged after MinJobAge while not followed) is kFailed.
// Cancel() is DELETE /slurm/<api_version>/job/<slurm id>. The ref is the Slurm job id.
// Destroying the executor stops and joins its thread; Slurm jobs keep running.
// Thread-safe.
//
// Jobs run as the user slurmrestd authenticates (nobody for rest_auth/local as nobody):
// work_dir must exist on the node and be writable by that user. Start() creates it when
// missing, on the gateway's machine, with the owner and mode of its parent directory (the
// center's jobs.work_dir), so an operator who gives that directory to the jobs' user
// gives it every job's directory too.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "executor/job_executor.h"

namespace edwc::executor {

struct SlurmExecutorOptions {
  std::string socket_path;  // slurmrestd's unix socket
  // Catalog model id -> Slurm GRES type, e.g. {"a100-80g", "a100"}: the reverse of the
  // slurm capacity source's gres_models. A launch with devices needs its model here.
  std::vector<std::pair<std::string, std::string>> model_gres;
  std::string api_version = "v0.0.38";
  std::chrono::milliseconds poll{1000};
  // Bound on one request (connect, write, whole response).
  std::chrono::milliseconds io_timeout{5000};
  std::string partition;  // empty: the cluster's default partition
  // Every job's base environment (a Slurm batch job gets only what the submission
  // names); the launch's `env` and EDWC_JOB_ID are added to it.
  std::vector<std::pair<std::string, std::string>> base_env = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"LANG", "C.UTF-8"}};
};

// Checks the options and that slurmrestd answers (GET .../ping): kInvalidArgument for bad
// options (naming the field), kUnavailable when slurmrestd cannot be reached.
// REQUIRES: on_end and clock non-null; clock outlives the executor.
core::Result<JobExecutorPtr> MakeSlurmExecutor(SlurmExecutorOptions options, JobEnded on_end,
                                               const core::Clock* clock);

// The batch script for `argv`: "#!/bin/sh\nexec 'arg0' 'arg 1' ...\n". Exposed for tests.
std::string SlurmBatchScript(const std::vector<std::string>& argv);

}  // namespace edwc::executor
