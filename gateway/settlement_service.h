// SettlementService: settlements between centers (DESIGN.md section 5), over the Ledger.
//
// As PAYEE (we did the work):
//   - a hold of ours ends with usage (SettleHold), or a receiver claims the egress of a
//     transfer leg we sent (POST /peer/v1/settlements/egress): we issue a settlement,
//     signed, durable;
//   - we offer our unanswered settlements to each payer, in sequence order, in batches,
//     retried with backoff until answered (POST /peer/v1/settlements on the payer); the
//     answer (countersigned, or a dispute with the payer's version) is stored in place.
// As PAYER:
//   - POST /peer/v1/settlements: each offered record is checked (the caller's certificate
//     is the payee's, the payee's signature, sequence and chain, then our own version of
//     it from our records: JobService / TransferService through `expect`) and stored
//     countersigned or as a dispute, durably, before we answer;
//   - a leg we received from another center is claimed from its sender (ClaimEgress),
//     durably queued and retried until the sender has issued the settlement.
// Reading (peer listener, the caller sees only records between it and us):
//   GET /peer/v1/ledger/digests?from=&to=   per-day digests (reconciliation)
//   GET /peer/v1/ledger/records?from=&to=   the records themselves (drill down)
//   GET /peer/v1/statement?from=&to=        our signed net position per counterparty
// Finance (api listener, role finance; docs/settlements.md):
//   GET /v1/settlements, GET /v1/settlements/{id}, GET /v1/balances, GET /v1/ledger/verify,
//   POST /v1/reconcile/{peer}, GET /v1/netting, GET /v1/statements/{peer}
//
// Thread-safety: all methods are thread-safe. No blocking work on I/O threads: ledger
// reads that scan go to a worker.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/center_config.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/settlement.h"
#include "gateway/advert_crypto.h"

namespace edwc::storage {
class Store;
}  // namespace edwc::storage

namespace edwc::federation {
struct HoldRecord;
}  // namespace edwc::federation

namespace edwc::gateway {

class IoRuntime;
class Metrics;
class Router;
class ViewSource;
class Ledger;

class SettlementService {
 public:
  // The payer's own version of an offered body (federation::ExpectCompute/ExpectEgress
  // over its records), by kind. kNotFound: no record of it here.
  using Expect =
      std::function<core::Result<federation::SettlementBody>(const federation::SettlementBody&)>;

  static core::Result<std::unique_ptr<SettlementService>> Create(const config::CenterConfig& config,
                                                                 IoRuntime& runtime,
                                                                 Metrics* metrics,
                                                                 const core::Clock* clock);
  ~SettlementService();

  // REQUIRES: before the listeners serve. Routes answer 503 until Open.
  void RegisterRoutes(Router& api, Router& peer);
  // Opens the ledger in `store`; `view` gives peers' URLs and liveness. Both must outlive
  // the service. Logs (and counts) a chain that does not verify; serves anyway.
  core::Status Open(storage::Store* store, const ViewSource* view);
  void SetExpect(federation::SettlementKind kind, Expect expect);
  // Starts offering (and claiming) on the runtime's timer. REQUIRES: Open succeeded.
  void Start();
  void Stop();

  // Payee: a hold of ours ended. Idempotent (the settlement id is the hold's); holds that
  // did not run (no usage) are ignored.
  void SettleHold(const federation::HoldRecord& hold);
  // Payer: we received `claim.bytes` from claim.sender. Idempotent.
  void ClaimEgress(const federation::EgressClaim& claim);
  // A reloaded certificate: settlements, countersignatures and statements are signed by
  // `signer` from now on (the ledger stores its certificate first), and peers' signatures
  // are checked against `anchors`. kIoError etc. if the ledger cannot store the
  // certificate; nothing changes then. REQUIRES: not on an I/O thread.
  core::Status SetCredentials(std::shared_ptr<const federation::AdvertSigner> signer,
                              std::shared_ptr<const CaAdvertVerifier::TrustAnchors> anchors);
  // New egress price (a reloaded config), for legs claimed from now on.
  void SetEgressPrice(core::Money per_gb);

  // The ledger. REQUIRES: Open succeeded.
  Ledger& ledger();

  struct Impl;

 private:
  explicit SettlementService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
