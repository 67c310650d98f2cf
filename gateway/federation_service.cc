#include "gateway/federation_service.h"

#include <boost/json.hpp>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "core/accelerator.h"
#include "core/json.h"
#include "core/log.h"
#include "executor/capacity.h"
#include "gateway/advert_crypto.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/peer_client.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::CapacityAdvert;
using federation::Gossip;
using federation::GossipMessage;
using federation::GossipOutbound;

namespace {

federation::GossipOptions GossipOptionsFrom(const config::GossipSettings& g) {
  federation::GossipOptions o;
  o.fanout = g.fanout;
  o.round = g.round;
  o.anti_entropy_every = g.anti_entropy;
  o.advert_ttl = g.advert_ttl;
  o.refresh_every = g.refresh;
  return o;
}

int32_t MicroDegrees(double degrees) { return static_cast<int32_t>(std::llround(degrees * 1e6)); }

}  // namespace

struct FederationService::Impl : std::enable_shared_from_this<FederationService::Impl> {
  Impl(const config::CenterConfig& c, uint64_t e, std::string url, executor::CapacitySource* cap,
       IoRuntime& rt, Metrics* m, const core::Clock* clk)
      : config(c),
        epoch(e),
        peer_url(std::move(url)),
        capacity(cap),
        runtime(rt),
        metrics(m),
        clock(clk) {}

  const config::CenterConfig& config;
  const uint64_t epoch;
  const std::string peer_url;
  executor::CapacitySource* capacity;
  IoRuntime& runtime;
  Metrics* metrics;
  const core::Clock* clock;
  std::shared_ptr<const federation::AdvertSigner> signer;  // GUARDED_BY(mu)
  std::unique_ptr<CaAdvertVerifier> verifier;
  std::unique_ptr<HttpsPeerClient> peers;

  mutable std::shared_mutex revoked_mu;
  std::set<std::string, std::less<>> revoked;  // GUARDED_BY(revoked_mu)

  mutable std::mutex mu;
  std::unique_ptr<Gossip> gossip;                   // GUARDED_BY(mu)
  uint64_t seq = 0;                                 // GUARDED_BY(mu)
  std::vector<executor::ModelCapacity> advertised;  // GUARDED_BY(mu): capacity in the last advert
  bool stopped = false;                             // GUARDED_BY(mu)
  config::PriceList pricing;                        // GUARDED_BY(mu): starts as config.pricing
  bool reissue = false;                             // GUARDED_BY(mu): advertise at the next chance

  bool Revoked(std::string_view center) const {
    std::shared_lock lock(revoked_mu);
    return revoked.find(center) != revoked.end();
  }
  core::Result<CapacityAdvert> BuildAdvert(const std::vector<executor::ModelCapacity>& models,
                                           core::Time now, uint64_t advert_seq) const;
  // Issues a new own advert if capacity changed or a refresh is due; returns pushes.
  std::vector<GossipOutbound> MaybeReissue(core::Time now, bool force);
  void Send(std::vector<GossipOutbound> out);
  void HandleGossip(HttpRequest& req, Respond respond);
};

core::Result<CapacityAdvert> FederationService::Impl::BuildAdvert(
    const std::vector<executor::ModelCapacity>& models, core::Time now, uint64_t advert_seq) const {
  const config::CenterIdentity& c = config.center;
  CapacityAdvert a;
  a.center = c.id;
  a.peer_url = peer_url;
  a.epoch = epoch;
  a.seq = advert_seq;
  a.issued_at = now;
  a.ttl = config.federation.gossip.advert_ttl;
  a.name = c.name;
  a.hub = c.hub;
  a.city = c.city;
  a.zone = c.zone;
  a.lat_microdeg = MicroDegrees(c.location.lat);
  a.lon_microdeg = MicroDegrees(c.location.lon);
  for (const executor::ModelCapacity& m : models) {
    federation::ModelCapacityAdvert ma;
    ma.model = m.model;
    ma.total = m.total;
    ma.free = std::max(0, m.free());
    for (const config::ModelPrice& p : pricing.models) {
      if (p.model == m.model) ma.price = p.schedule;
    }
    if (const core::AcceleratorModel* spec = core::FindAccelerator(m.model)) {
      a.free_fp16_dense_tflops += int64_t{spec->fp16_dense_tflops} * ma.free;
      a.total_fp16_dense_tflops += int64_t{spec->fp16_dense_tflops} * ma.total;
    }
    a.models.push_back(std::move(ma));
  }
  std::sort(a.models.begin(), a.models.end(),
            [](const auto& x, const auto& y) { return x.model < y.model; });
  a.egress_per_gb = pricing.egress_per_gb;
  a.surge = pricing.surge;
  for (const config::LinkConfig& l : config.federation.links) {
    a.links.push_back({l.center, l.bandwidth_mbps, l.rtt_ms});
  }
  std::sort(a.links.begin(), a.links.end(),
            [](const auto& x, const auto& y) { return x.center < y.center; });
  a.green_share_permille = c.green_share_permille;
  a.pue_milli = c.pue_milli;
  EDWC_RETURN_IF_ERROR(federation::SignAdvert(*signer, a));
  return a;
}

std::vector<GossipOutbound> FederationService::Impl::MaybeReissue(core::Time now, bool force) {
  auto models = capacity->Read();
  if (!models.ok()) {
    core::LogWarn("federation", "capacity read failed: " + models.status().ToString());
    return {};
  }
  std::lock_guard lock(mu);
  if (stopped) return {};
  auto same = [](const std::vector<executor::ModelCapacity>& x,
                 const std::vector<executor::ModelCapacity>& y) {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (x[i].model != y[i].model || x[i].total != y[i].total || x[i].used != y[i].used) {
        return false;
      }
    }
    return true;
  };
  if (!force && !reissue && same(*models, advertised) && !gossip->LocalAdvertDue(now)) return {};
  reissue = false;
  auto advert = BuildAdvert(*models, now, ++seq);
  if (!advert.ok()) {
    core::LogError("federation", "cannot sign our advert: " + advert.status().ToString());
    return {};
  }
  advertised = *models;
  return gossip->SetLocalAdvert(std::move(advert).value(), now);
}

void FederationService::Impl::Send(std::vector<GossipOutbound> out) {
  for (GossipOutbound& o : out) {
    std::string body = json::serialize(federation::ToJson(o.message));
    const std::string url = o.to_url;
    peers->Post(url, std::string(FederationService::kGossipPath), std::move(body),
                /*idempotent=*/true,
                [self = shared_from_this(), sent = std::move(o)](core::Result<PeerResponse> r) {
                  const core::Time now = self->clock->Now();
                  std::vector<GossipOutbound> follow;
                  std::optional<GossipMessage> reply;
                  if (r.ok() && r->status == 200) {
                    if (auto v = core::ParseJson(r->body); v.ok()) {
                      if (auto m = federation::MessageFromJson(*v); m.ok()) reply = std::move(*m);
                    }
                  }
                  {
                    std::lock_guard lock(self->mu);
                    if (self->stopped) return;
                    if (reply && !self->Revoked(r->peer_center)) {
                      follow = self->gossip->ReplyReceived(sent, r->peer_center, *reply, now);
                    } else {
                      self->gossip->SendFailed(sent, now);
                    }
                  }
                  if (!follow.empty()) self->Send(std::move(follow));
                });
  }
}

void FederationService::Impl::HandleGossip(HttpRequest& req, Respond respond) {
  if (req.peer_center.empty()) {
    return respond(HttpResponse::Error(core::Status(
        core::Code::kUnauthenticated, "peer routes need a client certificate of the federation")));
  }
  if (Revoked(req.peer_center)) {
    return respond(HttpResponse::Error(
        core::Status(core::Code::kPermissionDenied, "center " + req.peer_center + " is revoked")));
  }
  auto value = core::ParseJson(req.body);
  if (!value.ok()) return respond(HttpResponse::Error(value.status()));
  auto message = federation::MessageFromJson(*value);
  if (!message.ok()) return respond(HttpResponse::Error(message.status()));
  GossipMessage reply;
  {
    std::lock_guard lock(mu);
    if (stopped) {
      return respond(HttpResponse::Error(core::Status(core::Code::kUnavailable, "stopping")));
    }
    reply = gossip->Receive(req.peer_center, *message, clock->Now());
  }
  respond(HttpResponse::Json(200, json::serialize(federation::ToJson(reply))));
}

FederationService::FederationService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

FederationService::~FederationService() { Stop(); }

core::Result<std::unique_ptr<FederationService>> FederationService::Create(
    const config::CenterConfig& config, uint64_t epoch, std::string peer_url,
    executor::CapacitySource* capacity, IoRuntime& runtime, Metrics* metrics,
    const core::Clock* clock) {
  auto impl =
      std::make_shared<Impl>(config, epoch, std::move(peer_url), capacity, runtime, metrics, clock);
  EDWC_ASSIGN_OR_RETURN(impl->signer, MakeAdvertSigner(config.tls.cert, config.tls.key));
  Impl* raw = impl.get();
  EDWC_ASSIGN_OR_RETURN(impl->verifier,
                        CaAdvertVerifier::Create(config.tls.ca, [raw](std::string_view center) {
                          return raw->Revoked(center);
                        }));
  PeerClientOptions options;
  options.clock = clock;
  EDWC_ASSIGN_OR_RETURN(impl->peers,
                        HttpsPeerClient::Create(runtime, config.tls, options, metrics));
  impl->revoked.insert(config.federation.revoked.begin(), config.federation.revoked.end());
  impl->pricing = config.pricing;
  // Seeded per run so that two centers started together do not pick alike.
  const uint64_t seed =
      std::hash<std::string>()(config.center.id) ^ (epoch * 0x9e3779b97f4a7c15ull);
  impl->gossip = std::make_unique<Gossip>(
      config.center.id, GossipOptionsFrom(config.federation.gossip), impl->verifier.get(), seed);
  for (const std::string& url : config.federation.seeds) {
    if (url != impl->peer_url) impl->gossip->AddSeed(url);
  }
  if (metrics != nullptr) {
    std::weak_ptr<Impl> weak = impl;
    metrics->AddFamily(
        "edwc_adverts_rejected_total", "Adverts refused, by reason.", "counter", [weak] {
          Metrics::Samples out;
          auto self = weak.lock();
          if (!self) return out;
          std::lock_guard lock(self->mu);
          const auto& c = self->gossip->counters();
          for (int r = 0; r < federation::kRejectReasonCount; ++r) {
            out.emplace_back("reason=\"" +
                                 std::string(federation::RejectReasonName(
                                     static_cast<federation::RejectReason>(r))) +
                                 "\"",
                             static_cast<double>(c.rejected[static_cast<size_t>(r)]));
          }
          return out;
        });
    metrics->AddFamily(
        "edwc_federation_centers", "Centers in the view, by liveness.", "gauge", [weak] {
          Metrics::Samples out;
          auto self = weak.lock();
          if (!self) return out;
          double n[3] = {0, 0, 0};
          std::lock_guard lock(self->mu);
          for (const auto& e : self->gossip->View(self->clock->Now())) {
            n[static_cast<int>(e.liveness)] += 1;
          }
          for (auto l : {federation::Liveness::kAlive, federation::Liveness::kSuspect,
                         federation::Liveness::kDead}) {
            out.emplace_back("liveness=\"" + std::string(federation::LivenessName(l)) + "\"",
                             n[static_cast<int>(l)]);
          }
          return out;
        });
    auto gossip_counter = [weak](uint64_t federation::GossipCounters::*field) {
      return [weak, field] {
        auto self = weak.lock();
        if (!self) return 0.0;
        std::lock_guard lock(self->mu);
        return static_cast<double>(self->gossip->counters().*field);
      };
    };
    metrics->AddCounter("edwc_adverts_accepted_total", "Adverts that updated the view.",
                        gossip_counter(&federation::GossipCounters::accepted));
    metrics->AddCounter("edwc_adverts_duplicate_total",
                        "Adverts equal to the one already held (normal in gossip).",
                        gossip_counter(&federation::GossipCounters::duplicates));
    metrics->AddCounter("edwc_gossip_messages_sent_total",
                        "Gossip messages sent to peers, failed ones included.",
                        gossip_counter(&federation::GossipCounters::messages_sent));
    metrics->AddCounter("edwc_gossip_send_failures_total",
                        "Gossip messages that could not be delivered to a peer.",
                        gossip_counter(&federation::GossipCounters::send_failures));
  }
  return std::unique_ptr<FederationService>(new FederationService(std::move(impl)));
}

void FederationService::HandleGossip(HttpRequest& request, Respond respond) {
  impl_->HandleGossip(request, std::move(respond));
}

void FederationService::Start() {
  auto impl = impl_;
  impl->Send(impl->MaybeReissue(impl->clock->Now(), /*force=*/true));
  impl->runtime.Every(impl->config.federation.gossip.round, [weak = std::weak_ptr<Impl>(impl)] {
    auto self = weak.lock();
    if (!self) return false;
    const core::Time now = self->clock->Now();
    std::vector<GossipOutbound> out = self->MaybeReissue(now, /*force=*/false);
    {
      std::lock_guard lock(self->mu);
      if (self->stopped) return false;
      auto more = self->gossip->Tick(now);
      out.insert(out.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
    }
    self->Send(std::move(out));
    return true;
  });
}

void FederationService::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->peers->Shutdown();
}

void FederationService::SetRevoked(const std::vector<std::string>& centers) {
  std::unique_lock lock(impl_->revoked_mu);
  impl_->revoked = std::set<std::string, std::less<>>(centers.begin(), centers.end());
  lock.unlock();
  std::lock_guard glock(impl_->mu);
  for (const std::string& c : centers) impl_->gossip->Forget(c);
}

bool FederationService::IsRevoked(std::string_view center) const { return impl_->Revoked(center); }

void FederationService::SetPricing(const config::PriceList& pricing) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->pricing == pricing) return;
    impl_->pricing = pricing;
    impl_->reissue = true;
  }
  // Advertise now rather than at the next round.
  impl_->runtime.Post([weak = std::weak_ptr<Impl>(impl_)] {
    if (auto self = weak.lock()) self->Send(self->MaybeReissue(self->clock->Now(), false));
  });
}

void FederationService::SetCredentials(
    std::shared_ptr<const federation::AdvertSigner> signer,
    std::shared_ptr<const CaAdvertVerifier::TrustAnchors> anchors) {
  impl_->verifier->SetTrustAnchors(std::move(anchors));
  {
    std::lock_guard lock(impl_->mu);
    impl_->signer = std::move(signer);
    impl_->reissue = true;
  }
  // Peers see the new certificate in an advert now rather than at the next refresh.
  impl_->runtime.Post([weak = std::weak_ptr<Impl>(impl_)] {
    if (auto self = weak.lock()) self->Send(self->MaybeReissue(self->clock->Now(), false));
  });
}

void FederationService::AddSeeds(const std::vector<std::string>& urls) {
  std::lock_guard lock(impl_->mu);
  for (const std::string& url : urls) {
    if (url != impl_->peer_url) impl_->gossip->AddSeed(url);
  }
}

std::vector<federation::ViewEntry> FederationService::View(core::Time now) const {
  std::vector<federation::ViewEntry> view;
  {
    std::lock_guard lock(impl_->mu);
    view = impl_->gossip->View(now);
  }
  std::erase_if(view,
                [this](const federation::ViewEntry& e) { return impl_->Revoked(e.advert.center); });
  return view;
}

uint64_t FederationService::version() const {
  std::lock_guard lock(impl_->mu);
  return impl_->gossip->version();
}

}  // namespace edwc::gateway
