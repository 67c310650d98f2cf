// Cluster: real `edwc agent` processes on loopback for integration tests. Each center gets
// a directory, a certificate from one test CA, a complete center.yaml and its own RocksDB;
// the agents are stopped (SIGTERM, then SIGKILL) when the cluster goes. An agent may also
// listen elsewhere and run through a launcher (another network namespace: netns.h).
// Not thread-safe, except Call(), which opens its own connection.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cli/process.h"
#include "config/center_config.h"
#include "core/status.h"
#include "gateway/http_types.h"
#include "tests/support/test_support.h"

namespace edwc::testing {

struct Agent {
  std::string id;
  std::string dir;
  config::CenterConfig config;
  std::string config_path;
  cli::Child child;
  std::string api_url;
  std::string peer_url;
  uint64_t epoch = 0;
  std::vector<std::string> launcher;  // runs the binary, e.g. {"/usr/sbin/ip", "netns", "exec", ns}
};

class Cluster {
 public:
  using Edit = std::function<void(config::CenterConfig&)>;

  Cluster();  // blocks SIGCHLD in the calling thread, as cli::Spawn requires
  ~Cluster();

  // Writes center `id`'s config (fast gossip: 100 ms rounds, 2 s adverts), applies `edit`
  // and starts it, joining through `seed` (a peer URL, or empty), with `launcher` before
  // the binary. Listen addresses `edit` sets are in the certificate. Fails the test (and
  // returns the agent unstarted) when it does not report ready.
  Agent& Start(const std::string& id, const std::string& seed, const Edit& edit = {},
               std::vector<std::string> launcher = {});
  // Starts agent `i` again on its own config and storage.
  void Restart(size_t i);
  // SIGKILL, and reaps it.
  void Kill(size_t i);

  // center -> "liveness@epoch" in `viewer`'s view (empty when it cannot be read).
  std::map<std::string, std::string> ViewOf(const Agent& viewer) const;
  // Polls every running agent's view until `want` holds for all (fails after 30 s).
  void AwaitViews(const std::function<bool(const std::map<std::string, std::string>&)>& want,
                  const std::string& what) const;
  // Every running agent sees every agent alive.
  void AwaitAllAlive() const;

  // One API call to `agent` as `role`; the status and parsed body (null if none).
  std::pair<int, boost::json::value> Call(
      const Agent& agent, std::string_view method, std::string_view target,
      std::string_view body = {}, config::Role role = config::Role::kBroker,
      const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  // One peer-listener call to `agent` with the client certificate of center `as`.
  std::pair<int, boost::json::value> PeerCall(const Agent& agent, const std::string& as,
                                              std::string_view method, std::string_view target,
                                              std::string_view body = {});

  const std::string& root() const { return dir_.path(); }
  const std::string& ca_file() const { return ca_file_; }
  std::vector<Agent>& agents() { return agents_; }
  Agent& operator[](size_t i) { return agents_[i]; }
  const Agent& operator[](size_t i) const { return agents_[i]; }

 private:
  void Launch(Agent& agent);

  TempDir dir_;
  std::string ca_file_;
  std::map<std::string, TestPki> client_pki_;  // peer identities made for PeerCall
  std::vector<Agent> agents_;
};

}  // namespace edwc::testing
