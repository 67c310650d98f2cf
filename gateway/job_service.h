// JobService: the routing side of jobs on the api listener (DESIGN.md section 5). A broker
// submits a job to its home gateway; the service ranks the federation's centers
// (federation/placement.h), then drives federation::JobRouter with real time, RocksDB and
// the peer client: hold at the best center, commit, follow the job to its end, and fall
// back to the next center on a refusal, a dead target or an expired hold.
//
//   POST   /v1/jobs        place a job (Idempotency-Key header: the same key and body
//                          return the same job; another body under it is 409 naming the
//                          field). Answers once the job has left `placing` (201 new,
//                          200 replayed), or with 202 while it is still placing after
//                          kSubmitWait.
//   GET    /v1/jobs        the caller's jobs (operators: all), newest first, paged
//   GET    /v1/jobs/{id}   one job: state, where it runs, attempts, history, usage
//   DELETE /v1/jobs/{id}   cancel
//
// Jobs and idempotency keys are durable before the broker hears of them, and before any
// hold is asked for; after a restart every unfinished job resumes (JobRouter::Recover).
//
// Thread-safety: all methods are thread-safe; one mutex guards the router state, and
// store writes and peer calls happen outside it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "config/center_config.h"
#include "core/dataset.h"
#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/settlement.h"

namespace edwc::storage {
class Store;
}

namespace edwc::gateway {

class IoRuntime;
class Metrics;
class Router;
class ViewSource;

// Looks up the manifest of `dataset` at `center` (the inputs of a job), answering once
// from any thread.
using ManifestSource =
    std::function<void(const std::string& center, const std::string& dataset,
                       std::function<void(core::Result<core::DatasetManifest>)>)>;

class JobService {
 public:
  // How long POST /v1/jobs waits for the job to leave `placing` before answering 202.
  static constexpr std::chrono::milliseconds kSubmitWait{10000};

  // Pointers must outlive the service.
  static core::Result<std::unique_ptr<JobService>> Create(const config::CenterConfig& config,
                                                          IoRuntime& runtime, Metrics* metrics,
                                                          const core::Clock* clock);
  ~JobService();

  // REQUIRES: before the api listener serves. Its routes answer 503 until Open.
  void RegisterRoutes(Router& api_router);
  // Jobs that name input datasets are refused until this is set. REQUIRES: before Open.
  void SetManifestSource(ManifestSource source);
  // Loads the jobs in `store` and resumes the unfinished; places new jobs on `view`.
  // Both must outlive the service.
  core::Status Open(storage::Store* store, const ViewSource* view);
  // Sends what recovery found in flight and starts the retry/poll timer.
  void Start();
  // Stops the timer and outgoing calls; new submissions get 503.
  void Stop();

  // The usage cost of this center's jobs that ran at `center` (what we owe it), for the
  // credit limits of the hold side.
  core::Money PayableTo(std::string_view center) const;

  // The payer's check of a compute settlement offered by the center that ran one of our
  // jobs: our own version of it (federation::ExpectCompute over our record of the job).
  // kNotFound when we have no such job.
  core::Result<federation::SettlementBody> ExpectSettlement(
      const federation::SettlementBody& offered) const;

 private:
  struct Impl;
  explicit JobService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
