// Internal to the settlement service (gateway/settlement_service.h): only its own files
// include this.
//   settlement_service.cc   issuing, offering, accepting offers, egress claims
//   settlement_finance.cc   reading: the finance API and the peer read routes
//   settlement_reconcile.cc reconciliation with a peer and netting across the federation
#pragma once

#include <array>
#include <atomic>
#include <boost/json/fwd.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/center_config.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/advert.h"
#include "federation/settlement.h"
#include "gateway/advert_crypto.h"
#include "gateway/http_types.h"
#include "gateway/ledger.h"
#include "gateway/peer_client.h"
#include "gateway/settlement_service.h"
#include "gateway/worker_pool.h"

namespace edwc::gateway {

struct RouteContext;

namespace settlement_internal {

// A period [from, to) on period_end from query parameters `from` and `to`, each RFC 3339
// or a China date "YYYY-MM-DD" (its 00:00 UTC+8); absent: unbounded. kInvalidArgument
// naming the parameter.
struct Period {
  core::Time from = core::Time(core::Duration(INT64_MIN / 2));
  core::Time to = core::Time(core::Duration(INT64_MAX / 2));
  bool Contains(core::Time t) const { return t >= from && t < to; }
};
core::Result<Period> PeriodFromQuery(const HttpRequest& req);
// "?from=...&to=..." for a peer call (empty when unbounded).
std::string PeriodQuery(const Period& p);

HttpResponse Json(int status, const boost::json::value& body);

// Shared by settlement_finance.cc and settlement_reconcile.cc; defined in the former.
inline constexpr core::Duration kDay = std::chrono::hours(24);  // China has no DST

// A period bound: a China date "YYYY-MM-DD" (its 00:00 UTC+8) or an RFC 3339 time.
core::Result<core::Time> ParseBound(std::string_view text, std::string_view field);
core::Status CheckOrder(const Period& p);

HttpResponse Unavailable(std::string why);
void PutMoney(boost::json::object& o, std::string_view name, core::Money m);
// RFC 3339, or null for an unbounded end.
boost::json::value FromBound(const Period& p);
boost::json::value ToBound(const Period& p);

// Records between self and `other` with period_end in `p`: the two chains of the pair.
// Blocking.
core::Result<std::vector<federation::Settlement>> CollectWith(const SettlementService::Impl& impl,
                                                              std::string_view other,
                                                              const Period& p);
// Our net position per counterparty over agreed records of `p`. Blocking.
core::Result<federation::Statement> OurStatement(const SettlementService::Impl& impl,
                                                 const Period& p);

// settlement_reconcile.cc: POST /v1/reconcile/{peer} and GET /v1/netting.
void Reconcile(SettlementService::Impl& impl, HttpRequest& req, const RouteContext& ctx,
               Respond respond);
void Netting(SettlementService::Impl& impl, HttpRequest& req, const RouteContext& ctx,
             Respond respond);

}  // namespace settlement_internal

struct SettlementService::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::CenterConfig& c, IoRuntime& rt, Metrics* m, const core::Clock* clk)
      : config(c), runtime(rt), metrics(m), clock(clk) {}

  const config::CenterConfig config;
  IoRuntime& runtime;
  Metrics* metrics;
  const core::Clock* clock;
  storage::Store* store = nullptr;
  const ViewSource* view = nullptr;
  std::unique_ptr<federation::AdvertSigner> signer;  // at start; then ledger->signing()
  std::unique_ptr<CaAdvertVerifier> verifier;        // certificates and signatures of peers
  std::unique_ptr<Ledger> ledger;
  std::unique_ptr<PeerClient> peers;
  std::unique_ptr<WorkerPool> readers;  // scans of the ledger, off the I/O threads
  std::unique_ptr<WorkerPool> issuers;  // Ledger::Issue waits for its sync
  std::atomic<bool> open{false};

  // Counters for /metrics. Settlements are counted by SettlementKind; answers also by the
  // role this center had in them.
  static constexpr size_t kKinds = 2;  // SettlementKind values
  static_assert(static_cast<size_t>(federation::SettlementKind::kEgress) + 1 == kKinds);
  enum Role { kPayee, kPayer };
  using PerKind = std::array<std::atomic<uint64_t>, kKinds>;
  static size_t KindIndex(federation::SettlementKind k) { return static_cast<size_t>(k); }
  PerKind issued{};
  std::array<PerKind, 2> agreed{}, disputed{};  // by Role
  std::atomic<uint64_t> offers_failed{0}, chain_breaks{0};

  std::mutex mu;
  bool stopped = false;                                 // GUARDED_BY(mu)
  std::map<federation::SettlementKind, Expect> expect;  // GUARDED_BY(mu)
  core::Money egress_per_gb;                            // GUARDED_BY(mu)

  // settlement_service.cc. Offers to one payer: one request at a time, retried with backoff.
  struct Outgoing {
    bool in_flight = false;
    int failures = 0;
    core::Time next_try{};
  };
  std::map<std::string, Outgoing, std::less<>> outgoing;  // GUARDED_BY(mu), by payer
  std::set<std::string, std::less<>> accepting;           // GUARDED_BY(mu): payees being answered
  // Egress claims of ours (as payer) the sender has not yet taken, by settlement id.
  struct PendingClaim {
    federation::EgressClaim claim;
    bool in_flight = false;
    int failures = 0;
    core::Time next_try{};
  };
  std::map<std::string, PendingClaim, std::less<>> claims;  // GUARDED_BY(mu)

  void Tick();
  void Kick(const std::string& payer);
  void SendOffers(const std::string& payer);
  void OnOfferAnswer(const std::string& payer, const core::Result<PeerResponse>& r);
  void OfferDone(const std::string& payer, bool ok, const std::string& why);
  void SendClaim(const std::string& id);
  void HandleOffers(HttpRequest& req, Respond respond);
  void HandleEgressClaim(HttpRequest& req, Respond respond);
  void Issue(federation::SettlementBody body,
             std::function<void(core::Result<federation::Settlement>)> done);

  // The peer URL of `center` from the view; empty when unknown.
  std::string PeerUrlOf(std::string_view center) const;
  // Every center of the view that is alive, this one included.
  std::vector<std::string> LiveCenters() const;
  // Checks `signature` (raw) over `bytes` by `center` under certificate `pem`: the
  // certificate chains to the federation CA and is `center`'s.
  core::Status CheckSignature(std::string_view center, std::string_view pem, std::string_view bytes,
                              std::string_view signature) const;

  // One of our certificates by its id: the one we sign with now, or one that signed
  // stored records (kNotFound otherwise). Reads the store: not on an I/O thread.
  core::Result<std::string> CertificatePem(const std::string& cert_id) const;

  // Runs fn on a reader worker and answers with its result (503 when stopping).
  void OffThread(Respond respond, std::function<HttpResponse()> fn);

  // settlement_finance.cc
  void RegisterFinanceRoutes(Router& api, Router& peer);
};

}  // namespace edwc::gateway
