// HoldService: the target side of the hold protocol (DESIGN.md section 5) on the peer
// listener. It drives federation::HoldBook with real time, RocksDB and an executor:
//
//   POST /peer/v1/holds               HoldRequest -> 201 {"hold"} granted | 200 {"hold"}
//                                     (same id again) | 200 {"rejected"} | 409 conflict
//   POST /peer/v1/holds/{id}/commit   -> 200 {"hold"}, then the executor starts the job (once
//                                     its inputs, if any, are fetched here)
//   POST /peer/v1/holds/{id}/release  -> 200 {"hold"}
//   POST /peer/v1/holds/{id}/cancel   -> 200 {"hold"} (cancel_requested while it stops)
//   GET  /peer/v1/jobs/{id}           -> 200 {"hold"}: the last durable record
//
// The caller is the center named by its client certificate; a hold belongs to the router
// that created it. Every answer that reveals a state is sent after that state is durable
// (a retry re-writes the record, so its answer also waits for the first write's sync).
// Unanswered holds expire after their TTL, also across restarts (Recover at Create).
//
// It is also the capacity source the federation advertises: total per model, and as
// used whatever is held or running (and, for Slurm, used by others).
//
// Thread-safety: all methods are thread-safe. The book is behind one mutex; store writes,
// executor calls and answers happen outside it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/center_config.h"
#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "executor/capacity.h"
#include "executor/job_executor.h"
#include "federation/holds.h"

namespace edwc::storage {
class Store;
}

namespace edwc::gateway {

class IoRuntime;
class Metrics;
class Router;

// Where a job's data comes from and goes (TransferService implements it): its inputs are
// fetched here before it starts, and what it left in its output directory is stored as a
// dataset when it ends.
class JobData {
 public:
  virtual ~JobData() = default;
  // Makes every input present here, then done(OK, the local file of each, in order), or
  // done(error naming the input). Idempotent: a restart asks again. `done` may run on any
  // thread.
  virtual void StageInputs(const std::string& hold_id,
                           const std::vector<federation::JobInput>& inputs,
                           std::function<void(core::Status, std::vector<std::string>)> done) = 0;
  // Stores `dir` as the dataset `name`: its only file as it is, or a tar of it; nullopt
  // when `dir` is empty or missing. Blocking: called on a worker thread.
  virtual core::Result<std::optional<federation::JobOutput>> StoreOutput(
      const std::string& name, const std::string& dir) = 0;
};

class HoldService final : public executor::CapacitySource {
 public:
  using ExecutorFactory = std::function<core::Result<executor::JobExecutorPtr>(executor::JobEnded)>;

  // Makes the executor. Pointers must outlive the service.
  static core::Result<std::unique_ptr<HoldService>> Create(const config::CenterConfig& config,
                                                           executor::CapacitySource* inventory,
                                                           ExecutorFactory make_executor,
                                                           IoRuntime& runtime, Metrics* metrics,
                                                           const core::Clock* clock);
  ~HoldService() override;

  // REQUIRES: before the peer listener serves. Its routes answer 503 until Open.
  void RegisterRoutes(Router& peer_router);
  // Recovers the holds in `store` (expiring the overdue, handing running jobs back to the
  // executor), then serves. `store` must outlive the service.
  core::Status Open(storage::Store* store);
  // Starts expiring holds on the runtime's timer, and the jobs that were committed but
  // never launched before a restart. REQUIRES: Open succeeded.
  void Start();
  // Stops the timer and answers nothing new (503); running jobs keep running.
  void Stop();

  // New prices (a reloaded config) apply to holds granted from now on.
  void SetPricing(const config::PriceList& pricing);
  // Jobs with inputs are refused a start until this is set; outputs are kept only with it.
  // `data` must outlive the service.
  void SetJobData(JobData* data);

  // What this center owes each counterparty (jobs they ran for us), from the routing side:
  // it raises that counterparty's credit limit, so the limit applies to the net debt.
  void SetPayables(std::function<core::Money(std::string_view center)> payable_to);

  // `sink` is called with every hold that ran (terminal, with usage) once its end is
  // durable, and at once with every such hold already stored. It may be called more than
  // once for a hold; it must be quick and thread-safe.
  void SetEndedSink(std::function<void(const federation::HoldRecord&)> sink);

  // CapacitySource: per model total and used (= total - free).
  core::Result<std::vector<executor::ModelCapacity>> Read() override;

 private:
  struct Impl;
  explicit HoldService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
