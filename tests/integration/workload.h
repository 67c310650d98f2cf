// Helpers for integration tests that drive a workload through real agents: JSON field
// readers, jobs (submit bodies, waiting for their end), datasets (uploads of generated
// bytes, file hashes), transfers (start, wait) and metrics.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/cluster.h"

struct evp_md_ctx_st;

namespace edwc::testing {

using namespace std::chrono_literals;

// A string / integer field of a JSON object, or "" / -1.
std::string Str(const boost::json::value& v, std::string_view key);
int64_t Int(const boost::json::value& v, std::string_view key);

// SHA-256 as lowercase hex, fed piece by piece.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  void Update(std::string_view bytes);
  std::string Hex();

 private:
  evp_md_ctx_st* ctx_;
};
std::string FileSha256(const std::string& path);

// Uploads `size` pseudo-random bytes as `name` to `agent`; returns the SHA-256 sent.
std::string Put(const Cluster& cluster, const Agent& agent, const std::string& name, int64_t size,
                const std::string& query = "");
std::string DatasetsDir(const Agent& agent);
// POST /v1/transfers at `home` (Idempotency-Key "t-<dataset>-<to>").
std::pair<int, boost::json::value> StartTransfer(const Cluster& cluster, const Agent& home,
                                                 const std::string& dataset,
                                                 const std::string& from, const std::string& to);
// Polls GET /v1/transfers/{id} at `home` until `until` holds (fails after `within`).
boost::json::value AwaitTransfer(const Cluster& cluster, const Agent& home, const std::string& id,
                                 const std::function<bool(const boost::json::value&)>& until,
                                 std::chrono::seconds within = 120s);
bool Ended(const boost::json::value& transfer);
// A counter or gauge from GET /metrics (-1 when absent).
double Metric(const Cluster& cluster, const Agent& agent, const std::string& name);

// Every center sells h20 only, at `fen` per device-hour all day.
Cluster::Edit H20(int32_t count, int64_t fen);
bool Terminal(const std::string& job_state);
// Polls GET /v1/jobs/{id} at `home` until the job ends (fails after `within`).
boost::json::value AwaitEnd(const Cluster& cluster, const Agent& home, const std::string& id,
                            std::chrono::seconds within = 60s);
// A POST /v1/jobs body: `count` h20 for 10 minutes running `sh -c script`; `extra` is
// more JSON members ("\"inputs\":[...]").
std::string JobBody(int count, const std::string& script, const std::string& extra = "");

// Runs the edwc binary under test with `args` to completion: its exit status, stdout in
// *out and stderr (kept in the file `log`) in *err.
int RunEdwc(std::vector<std::string> args, const std::string& log, std::string* out,
            std::string* err);

}  // namespace edwc::testing
