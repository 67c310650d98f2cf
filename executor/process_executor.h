// The `process` executor: each job runs as a child process of the gateway, in its own
// session and process group (so the job's whole process tree can be signalled), with the
// gateway's environment plus the launch's `env`, EDWC_JOB_ID, EDWC_DEVICES ("0,1") and
// the vendor's visible-devices variable (VisibleDevicesVariable); stdin is /dev/null and
// stdout/stderr are appended to work_dir/stdout.log and work_dir/stderr.log.
//
// One thread follows the children (a pidfd each, plus an eventfd to wake it), enforces
// time limits (SIGTERM to the group, SIGKILL `kill_grace` later), reaps them and calls
// JobEnded. A job's remaining group members are killed when its leader exits. The ref is
// "pid:starttime" (/proc/<pid>/stat field 22), so Recover() never signals a process that
// merely reuses the pid. A command that cannot be executed leaves no process: the job
// ends at once (kFailed, exit code 127) and its ref is "0:0". Destroying the executor
// SIGKILLs every running job's group, reaps them and joins the thread, without calling
// JobEnded for them.
// Thread-safe. Linux (pidfd_open: kernel 5.3+) and glibc 2.34+ (posix_spawn with
// clone(CLONE_VM | CLONE_VFORK), posix_spawn_file_actions_addclosefrom_np) only.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/status.h"
#include "core/time.h"
#include "executor/job_executor.h"

namespace edwc::executor {

struct ProcessExecutorOptions {
  // Between SIGTERM and SIGKILL when a job is cancelled or passes its time limit.
  core::Duration kill_grace{5000};
};

// REQUIRES: on_end and clock are non-null; clock outlives the executor.
JobExecutorPtr MakeProcessExecutor(JobEnded on_end, const core::Clock* clock,
                                   ProcessExecutorOptions options = {});

// Starts `path` with `argv` and `envp` (null-terminated) as the executor starts every job,
// with posix_spawn, which glibc does with clone(CLONE_VM | CLONE_VFORK): no page tables
// are copied, unlike fork. The process gets its own session, an empty signal mask and
// default dispositions, stdin, stdout and stderr from `in`, `out` and `err`, the directory
// `dir` as its working directory, and no other descriptor. Returns posix_spawn's error,
// which is the exec's as well as the clone's: on an error no process is left. Exposed for
// the jobs benchmark's anchor (bench/federation_bench.cc).
int SpawnJobProcess(const char* path, char* const argv[], char* const envp[], int dir, int in,
                    int out, int err, pid_t* pid);

// The ref Start() would return for the live process `pid` ("pid:starttime"); kNotFound
// when there is no such process. For tests and tools.
core::Result<std::string> ProcessRef(pid_t pid);

}  // namespace edwc::executor
