// Metrics: the gateway's counters, rendered in the Prometheus text format.
//
// Requests are counted by route pattern (bounded cardinality: "/v1/centers/{id}", never
// the raw path) and status, with a latency histogram per route. Routes are registered
// before serving; recording is lock-free (relaxed atomics). Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace edwc::gateway {

class Metrics {
 public:
  // Cached reads answer in tens of microseconds; durable writes wait for an fsync.
  static constexpr std::array<double, 14> kLatencyBucketsSeconds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
  // Statuses counted individually; anything else is counted as its class ("5xx").
  static constexpr std::array<int, 17> kStatuses = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                                                    408, 409, 413, 422, 429, 431, 500, 503};

  Metrics();

  // REQUIRES: called before serving starts. Returns the route's index.
  int RegisterRoute(std::string_view pattern);
  // Index of the pseudo-route for requests that matched nothing.
  int unmatched_route() const { return 0; }

  void RecordRequest(int route, int status, std::chrono::nanoseconds latency);

  // Connection and TLS counters, summed over the listeners that share this Metrics (the
  // api and peer listeners of an agent).
  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_rejected{0};  // over max_connections, none idle
  std::atomic<uint64_t> connections_shed{0};      // idle ones closed to make room
  std::atomic<uint64_t> handshake_failures{0};
  std::atomic<uint64_t> timeouts{0};  // handshake, idle, read or write deadline hit

  // Extra gauges rendered as-is: fn() is called at render time.
  void AddGauge(std::string name, std::string help, std::function<double()> fn);
  // A counter (name ending _total) whose value fn() reads at render time.
  void AddCounter(std::string name, std::string help, std::function<double()> fn);

  // A metric family with labels: fn() returns (label set, value) pairs at render time,
  // e.g. {"reason=\"forged\"", 3}. `type` is "counter" or "gauge".
  using Samples = std::vector<std::pair<std::string, double>>;
  void AddFamily(std::string name, std::string help, std::string type, std::function<Samples()> fn);
  // A gauge family with one label: fn() returns value by label value, e.g. holds by state
  // as edwc_holds{state="held"} 3.
  void AddGaugesBy(std::string name, std::string help, std::string label,
                   std::function<std::map<std::string, double>()> fn);

  std::string RenderPrometheus() const;

 private:
  static constexpr size_t kStatusSlots = kStatuses.size() + 5;           // + 1xx..5xx classes
  static constexpr size_t kBuckets = kLatencyBucketsSeconds.size() + 1;  // + +Inf
  struct Route {
    std::string pattern;
    std::array<std::atomic<uint64_t>, kStatusSlots> by_status{};
    std::array<std::atomic<uint64_t>, kBuckets> latency{};
    std::atomic<uint64_t> latency_sum_ns{0};
  };
  struct Gauge {
    std::string name, help;
    std::function<double()> fn;
  };
  static size_t StatusSlot(int status);
  static int SlotStatus(size_t slot, std::string* label);

  std::deque<Route> routes_;  // stable addresses; grows only before serving
  std::vector<Gauge> gauges_;
  struct Family {
    std::string name, help, type;
    std::function<Samples()> fn;
  };
  std::vector<Family> families_;  // GUARDED_BY(gauges_mu_)
  mutable std::mutex gauges_mu_;
};

}  // namespace edwc::gateway
