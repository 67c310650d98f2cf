// A seeded, deterministic simulator of a federation's gossip: N centers, each with a
// Gossip, on a virtual clock and a virtual network that loses, delays (and so reorders)
// and duplicates messages. Every message is a request that gets a reply, as on HTTPS;
// a lost request or reply, or one to a stopped center, is reported to the sender as a
// failed send after `send_timeout`. Invariants are checked after every event:
//   - no view holds an advert that fails the (fake) verifier, or one for another center;
//   - in any one Gossip object, (epoch, seq) of a center never goes backwards;
//   - every running center sees itself alive.
// The first violation stops the run and is kept in failure().
// Not thread-safe; one simulator per test.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "federation/gossip.h"
#include "tests/federation/fake_crypto.h"

namespace edwc::federation::testing {

struct SimOptions {
  int centers = 30;
  GossipOptions gossip;
  double loss = 0.05;       // of each request and each reply
  double duplicate = 0.02;  // of each request that is delivered
  int min_delay_ms = 1;
  int max_delay_ms = 50;
  core::Duration send_timeout{300};  // when a sender learns that a send failed
  int seeds_per_center = 3;          // center i+1 and random others
  // Each refresh changes the free count (as if jobs came and went), so that every
  // refresh is news; false makes refreshes pure keep-alives, as in a federation at rest.
  bool refresh_changes_capacity = true;
  // Adverts as heavy as in production (~700-byte certificate, 96-character signature,
  // links, two models: ~2 KB of JSON); slower, so only for the traffic measurements.
  bool production_sizes = false;
  // Count the wire bytes (json::serialize(ToJson(message))) of every request and reply.
  bool count_bytes = false;
};

// Wire traffic one center sent: its requests and its replies to others' requests.
struct Traffic {
  uint64_t bytes = 0;
  uint64_t messages = 0;
};

class Simulator {
 public:
  Simulator(uint64_t seed, SimOptions options);

  // Starts every center (first tick at a random phase within one round).
  void Start();
  // Processes events up to and including `until`; false once an invariant failed.
  bool RunUntil(core::Time until);

  // A crash: the Gossip is dropped; messages to it fail; its ticks stop.
  void Stop(int center);
  // A restart: a new Gossip with a new epoch, seeds only, a fresh advert at once.
  void Restart(int center);
  // A new advert with a changed price at once; it becomes the watched advert.
  void ChangePrice(int center);
  // From now on, notes which running centers see `center` alive with its current epoch.
  void WatchRevival(int center);
  bool AllSawRevival() const;
  // While frozen, no center refreshes its advert (to check exact convergence).
  void set_refresh_frozen(bool frozen) { refresh_frozen_ = frozen; }

  // Virtual time from the last ChangePrice until every running view held that advert.
  std::optional<core::Duration> watch_converged() const { return watch_converged_; }
  // Every running center holds exactly the current advert of every running center,
  // and sees it alive or suspect (not dead). On false, *why says where it differs.
  bool Converged(std::string* why) const;
  // Liveness of `center` in `viewer`'s view now (nullopt when unknown or not running).
  std::optional<Liveness> LivenessIn(int viewer, int center) const;
  const CapacityAdvert* Current(int center) const;
  // The advert of `center` that `viewer` holds (nullptr when none or not running).
  const CapacityAdvert* HeldBy(int viewer, int center) const;
  bool running(int center) const { return nodes_[static_cast<size_t>(center)].gossip != nullptr; }
  core::Time now() const { return now_; }
  const std::string& failure() const { return failure_; }
  uint64_t events() const { return events_processed_; }
  std::string Id(int center) const;
  std::string Url(int center) const;
  // Per center, since the start or the last ResetTraffic (needs options.count_bytes).
  const std::vector<Traffic>& traffic() const { return traffic_; }
  void ResetTraffic() { traffic_.assign(traffic_.size(), Traffic{}); }

  static core::Time StartTime() { return core::Time(core::Duration(1'800'000'000'000)); }

 private:
  struct Node {
    std::unique_ptr<Gossip> gossip;
    uint64_t incarnation = 0;
    uint64_t epoch = 0;
    uint64_t seq = 0;
    int64_t price_fen = 0;
    std::optional<CapacityAdvert> current;
    std::vector<std::string> seeds;
    uint64_t checked_version = ~uint64_t{0};
    std::map<int, std::pair<uint64_t, uint64_t>> seen;  // center -> (epoch, seq) held
  };
  enum class EventKind { kTick, kRequest, kReply, kFailed };
  struct Event {
    EventKind kind = EventKind::kTick;
    int center = 0;  // who handles it: ticker, request sender (for replies/failures)
    uint64_t incarnation = 0;
    GossipOutbound sent;
    int replier = -1;
    GossipMessage reply;
  };

  void Schedule(core::Time at, Event event);
  void Handle(Event& event);
  void Send(int from, std::vector<GossipOutbound> out);
  void IssueAdvert(int center);
  void Check(int center);
  void Fail(std::string why);
  void Count(int center, const GossipMessage& message);
  core::Duration Delay();
  bool Chance(double p);
  int CenterOfUrl(const std::string& url) const;

  SimOptions options_;
  std::mt19937_64 rng_;
  FakeVerifier verifier_;
  std::vector<Node> nodes_;
  std::map<std::pair<int64_t, uint64_t>, Event> queue_;  // (time, order) -> event
  uint64_t next_order_ = 0;
  core::Time now_;
  bool refresh_frozen_ = false;
  std::string failure_;
  uint64_t events_processed_ = 0;
  // The watched advert (from ChangePrice).
  int watch_center_ = -1;
  std::pair<uint64_t, uint64_t> watch_version_;
  core::Time watch_start_{};
  std::optional<core::Duration> watch_converged_;
  std::map<std::tuple<int, uint64_t, uint64_t>, CapacityAdvert> verified_;
  int revived_center_ = -1;
  std::vector<bool> revived_seen_;
  std::vector<Traffic> traffic_;
};

}  // namespace edwc::federation::testing
