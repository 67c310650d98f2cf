// TransferService: moves datasets between centers (DESIGN.md section 5, "Transfers";
// docs/datasets.md). A broker asks its home gateway; the receiving gateway pulls.
//
// api listener (the home side):
//   POST   /v1/transfers {dataset, from, to, name?} + Idempotency-Key  (broker) -> 201
//          {"transfer"}: planned (direct, or through a relay when that is faster), checked
//          against residency at the source, here and at the receiver before any byte
//          moves, and created at the receiver, which starts pulling at once.
//   GET    /v1/transfers            the transfers requested here (a broker sees its own)
//   GET    /v1/transfers/{id}       state, bytes, rate and ETA, asked of the receiver
//   DELETE /v1/transfers/{id}       cancel
//   GET    /v1/audit                (operator) cross-zone transfers and refusals
//
// peer listener (the receiving side, and a relay):
//   POST /peer/v1/transfers               a TransferRecord to pull (idempotent by id)
//   GET  /peer/v1/transfers/{id}          {"transfer": record and progress}
//   POST /peer/v1/transfers/{id}/cancel
//   GET  /peer/v1/transfers/{id}/chunks/{i}  a relay's staged chunk (425 until staged)
//
// It also fetches the inputs of jobs that run here and keeps their outputs (JobData).
//
// The receiver drives federation::TransferReceiver: it fetches `datasets.streams` chunks
// at once, verifies each against the manifest, writes and syncs it, and records it
// durably (one small key per chunk) before it counts; after a restart it resumes with
// the chunks it has. A relay is a receiver that keeps the chunks for the next leg.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "config/center_config.h"
#include "core/dataset.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/settlement.h"

namespace edwc::storage {
class Store;
class DatasetStore;
}  // namespace edwc::storage

namespace edwc::gateway {

class IoRuntime;
class JobData;
class Metrics;
class Router;
class ViewSource;

class TransferService {
 public:
  static core::Result<std::unique_ptr<TransferService>> Create(const config::CenterConfig& config,
                                                               IoRuntime& runtime, Metrics* metrics,
                                                               const core::Clock* clock);
  ~TransferService();

  // REQUIRES: before the listeners serve. Routes answer 503 until Open.
  void RegisterRoutes(Router& api, Router& peer);
  // Loads the transfers in `store` and resumes those still moving. The pointers must
  // outlive the service.
  core::Status Open(storage::Store* store, storage::DatasetStore* datasets, const ViewSource* view);
  // Starts the retry timer. REQUIRES: Open succeeded.
  void Start();
  // Stops pulling and answers 503 from now on; what is stored stays for the next start.
  void Stop();

  // The manifest of `dataset` at `center` (metadata only: no residency check applies).
  void FetchManifest(const std::string& center, const std::string& dataset,
                     std::function<void(core::Result<core::DatasetManifest>)> done);

  // Job inputs are fetched with transfers into this center's datasets (one copy per
  // content: "in.<sha256 prefix>.<name>", reused by later jobs), and job outputs stored as
  // datasets. REQUIRES: Open succeeded.
  JobData& job_data();

  // Settlement of egress: `sink` is called with the claim for every leg this center
  // received whole (a transfer done here, or staged here as a relay) once that is durable,
  // and at once for every such transfer already stored. Quick and thread-safe.
  void SetEgressSink(std::function<void(const federation::EgressClaim&)> sink);
  // The payer's check of an egress settlement: our version of it from our record of the
  // transfer (federation::ExpectEgress). kNotFound when we received no such transfer.
  core::Result<federation::SettlementBody> ExpectSettlement(
      const federation::SettlementBody& offered) const;

 private:
  struct Impl;
  explicit TransferService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
