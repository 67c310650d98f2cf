// FederationService: this center's part in the federation. It issues and signs this
// center's capacity adverts (from its capacity source, prices and epoch), drives the
// gossip protocol (federation/gossip.h) with real time, the peer client and the peer
// listener's POST /peer/v1/gossip, and keeps the federation view the api serves.
//
// Thread-safety: all public methods are thread-safe. Gossip state is behind one mutex;
// sends happen outside it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/center_config.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/gossip.h"
#include "gateway/advert_crypto.h"
#include "gateway/http_types.h"

namespace edwc::executor {
class CapacitySource;
}

namespace edwc::gateway {

class IoRuntime;
class Metrics;

// What the api renders as the federation view.
class ViewSource {
 public:
  virtual ~ViewSource() = default;
  // Every known center, this one included, sorted by id.
  virtual std::vector<federation::ViewEntry> View(core::Time now) const = 0;
  // Moves whenever the view changes.
  virtual uint64_t version() const = 0;
};

class FederationService final : public ViewSource {
 public:
  // `peer_url` is where peers reach this center's peer listener. Pointers must outlive
  // the service.
  static core::Result<std::unique_ptr<FederationService>> Create(
      const config::CenterConfig& config, uint64_t epoch, std::string peer_url,
      executor::CapacitySource* capacity, IoRuntime& runtime, Metrics* metrics,
      const core::Clock* clock);
  ~FederationService() override;

  // The path of the gossip route on the peer listener.
  static constexpr std::string_view kGossipPath = "/peer/v1/gossip";
  // POST /peer/v1/gossip: a gossip message from the peer named by the client certificate.
  void HandleGossip(HttpRequest& request, Respond respond);

  // Issues the first advert, contacts the seeds and starts the rounds.
  void Start();
  // Stops the rounds and outgoing calls.
  void Stop();

  // Replaces the revocation list: revoked centers' adverts are dropped from the view and
  // refused from now on, and their peer requests answered 403.
  void SetRevoked(const std::vector<std::string>& centers);
  bool IsRevoked(std::string_view center) const;

  // Replaces the price list (from a reloaded config); a new advert goes out at once.
  void SetPricing(const config::PriceList& pricing);

  // A reloaded certificate: adverts are signed by `signer` from now on (a new advert goes
  // out at once) and peers' adverts are checked against `anchors`.
  void SetCredentials(std::shared_ptr<const federation::AdvertSigner> signer,
                      std::shared_ptr<const CaAdvertVerifier::TrustAnchors> anchors);

  // Adds peer URLs to join through (from a reloaded config); the next rounds contact
  // them. URLs already known, and this center's own, are ignored.
  void AddSeeds(const std::vector<std::string>& urls);

  std::vector<federation::ViewEntry> View(core::Time now) const override;
  uint64_t version() const override;

 private:
  struct Impl;
  explicit FederationService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
