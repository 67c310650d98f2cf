// Agent: one center's gateway, wired. Owns the I/O runtime, storage, capacity source,
// metrics, auth and the api listener; starts them in order (listen, then open storage,
// then report ready) and stops them in reverse (drain, stop I/O, close storage).
//
// Thread-safety: Start and Wait from the controlling thread; RequestStop from any.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "config/center_config.h"
#include "core/status.h"

namespace edwc::gateway {

struct RouteInfo;

class Agent {
 public:
  // Binds the api listener, opens storage (bumping the epoch) and becomes ready.
  // With `handle_signals`, SIGINT and SIGTERM start a graceful drain.
  static core::Result<std::unique_ptr<Agent>> Start(config::CenterConfig config,
                                                    bool handle_signals);
  ~Agent();

  // Checks that the TLS files belong together and to this center: the certificate's SAN
  // URI names config.center.id, the key matches it, and it verifies against the CA now.
  // Start runs this too; `edwc agent --check` runs it alone.
  static core::Status CheckTls(const config::CenterConfig& config);

  uint16_t api_port() const;
  uint16_t peer_port() const;
  uint64_t epoch() const;
  const config::CenterConfig& config() const;
  // The routes of the api listener (gateway/router.h), for checking them against the API
  // description.
  std::vector<RouteInfo> api_routes() const;
  // The routes of the peer listener, for the security test matrix.
  std::vector<RouteInfo> peer_routes() const;

  // Starts a graceful stop; Wait() returns once it is done.
  void RequestStop();
  // Blocks until stopped. Returns 0 after a clean drain, 1 if the drain timed out.
  int Wait();

 private:
  struct Impl;
  friend void WatchConfig(Impl* p);
  friend void ApplyConfigChanges(Impl* p, const std::string& why);
  friend void StopWatchingConfig(Impl* p);
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
