#include "gateway/metrics.h"

#include <cstdio>

namespace edwc::gateway {

Metrics::Metrics() { RegisterRoute("unmatched"); }

int Metrics::RegisterRoute(std::string_view pattern) {
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].pattern == pattern) return static_cast<int>(i);
  }
  routes_.emplace_back();
  routes_.back().pattern = std::string(pattern);
  return static_cast<int>(routes_.size() - 1);
}

size_t Metrics::StatusSlot(int status) {
  for (size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  int cls = status / 100;
  if (cls < 1 || cls > 5) cls = 5;
  return kStatuses.size() + static_cast<size_t>(cls - 1);
}

int Metrics::SlotStatus(size_t slot, std::string* label) {
  if (slot < kStatuses.size()) {
    *label = std::to_string(kStatuses[slot]);
    return kStatuses[slot];
  }
  *label = std::to_string(slot - kStatuses.size() + 1) + "xx";
  return 0;
}

void Metrics::RecordRequest(int route, int status, std::chrono::nanoseconds latency) {
  if (route < 0 || static_cast<size_t>(route) >= routes_.size()) route = 0;
  Route& r = routes_[static_cast<size_t>(route)];
  r.by_status[StatusSlot(status)].fetch_add(1, std::memory_order_relaxed);
  const double seconds = static_cast<double>(latency.count()) / 1e9;
  size_t bucket = kLatencyBucketsSeconds.size();
  for (size_t i = 0; i < kLatencyBucketsSeconds.size(); ++i) {
    if (seconds <= kLatencyBucketsSeconds[i]) {
      bucket = i;
      break;
    }
  }
  r.latency[bucket].fetch_add(1, std::memory_order_relaxed);
  r.latency_sum_ns.fetch_add(static_cast<uint64_t>(latency.count()), std::memory_order_relaxed);
}

void Metrics::AddGauge(std::string name, std::string help, std::function<double()> fn) {
  std::lock_guard lock(gauges_mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(fn)});
}

void Metrics::AddFamily(std::string name, std::string help, std::string type,
                        std::function<Samples()> fn) {
  std::lock_guard lock(gauges_mu_);
  families_.push_back({std::move(name), std::move(help), std::move(type), std::move(fn)});
}

void Metrics::AddCounter(std::string name, std::string help, std::function<double()> fn) {
  AddFamily(std::move(name), std::move(help), "counter", [fn = std::move(fn)] {
    return Samples{{"", fn()}};
  });
}

void Metrics::AddGaugesBy(std::string name, std::string help, std::string label,
                          std::function<std::map<std::string, double>()> fn) {
  AddFamily(std::move(name), std::move(help), "gauge",
            [label = std::move(label), fn = std::move(fn)] {
              Samples out;
              for (auto& [value, n] : fn()) out.emplace_back(label + "=\"" + value + "\"", n);
              return out;
            });
}

namespace {

void AppendCounter(std::string& out, std::string_view name, std::string_view help,
                   std::string_view type, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ").append(buf).append("\n");
}

std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

std::string Metrics::RenderPrometheus() const {
  std::string out;
  out.reserve(8192);
  out +=
      "# HELP edwc_http_requests_total HTTP requests answered, by route pattern and status.\n"
      "# TYPE edwc_http_requests_total counter\n";
  std::string label;
  for (const Route& r : routes_) {
    for (size_t s = 0; s < kStatusSlots; ++s) {
      const uint64_t n = r.by_status[s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      SlotStatus(s, &label);
      out += "edwc_http_requests_total{route=\"" + r.pattern + "\",status=\"" + label + "\"} " +
             std::to_string(n) + "\n";
    }
  }
  out +=
      "# HELP edwc_http_request_duration_seconds Time from a complete request to its "
      "response being handed to TLS, by route pattern.\n"
      "# TYPE edwc_http_request_duration_seconds histogram\n";
  for (const Route& r : routes_) {
    uint64_t total = 0;
    std::array<uint64_t, kBuckets> counts;
    for (size_t b = 0; b < kBuckets; ++b) {
      counts[b] = r.latency[b].load(std::memory_order_relaxed);
      total += counts[b];
    }
    if (total == 0) continue;
    uint64_t cumulative = 0;
    const std::string prefix = "edwc_http_request_duration_seconds_bucket{route=\"" + r.pattern;
    for (size_t b = 0; b < kBuckets; ++b) {
      cumulative += counts[b];
      const std::string le =
          b < kLatencyBucketsSeconds.size() ? FormatSeconds(kLatencyBucketsSeconds[b]) : "+Inf";
      out += prefix + "\",le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    const double sum = static_cast<double>(r.latency_sum_ns.load(std::memory_order_relaxed)) / 1e9;
    out += "edwc_http_request_duration_seconds_sum{route=\"" + r.pattern + "\"} " +
           FormatSeconds(sum) + "\n";
    out += "edwc_http_request_duration_seconds_count{route=\"" + r.pattern + "\"} " +
           std::to_string(total) + "\n";
  }
  AppendCounter(out, "edwc_connections_open", "Open client connections.", "gauge",
                static_cast<double>(connections_open.load()));
  AppendCounter(out, "edwc_connections_accepted_total", "Connections accepted.", "counter",
                static_cast<double>(connections_accepted.load()));
  AppendCounter(out, "edwc_connections_rejected_total",
                "Connections refused at max_connections, none being idle.", "counter",
                static_cast<double>(connections_rejected.load()));
  AppendCounter(out, "edwc_connections_shed_total",
                "Idle connections closed at max_connections to make room for a new one.", "counter",
                static_cast<double>(connections_shed.load()));
  AppendCounter(out, "edwc_tls_handshake_failures_total", "TLS handshakes that failed.", "counter",
                static_cast<double>(handshake_failures.load()));
  AppendCounter(out, "edwc_connection_timeouts_total",
                "Connections closed by a handshake, idle, read or write deadline.", "counter",
                static_cast<double>(timeouts.load()));
  std::lock_guard lock(gauges_mu_);
  for (const Gauge& g : gauges_) AppendCounter(out, g.name, g.help, "gauge", g.fn());
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& [labels, value] : f.fn()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", value);
      out += labels.empty() ? f.name + " " + buf + "\n" : f.name + "{" + labels + "} " + buf + "\n";
    }
  }
  return out;
}

}  // namespace edwc::gateway
