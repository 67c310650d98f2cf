// Helpers for integration tests that drive a workload through real agents: JSON field
// readers, jobs (submit bodies, waiting for their end), datasets (uploads of generated
// bytes, file hashes), transfers (start, wait) and metrics.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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
// The body of POST /v1/transfers, and the Idempotency-Key StartTransfer sends with it.
std::string TransferBody(const std::string& dataset, const std::string& from,
                         const std::string& to);
std::string TransferKey(const std::string& dataset, const std::string& to);
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

// Jobs that log their runs: `LoggedJobScript(log, seconds)` appends
// "start|end <center> <router> <router job> <hold> <devices> <ns>" to `log` around a sleep
// of `seconds` (a shell number, "0.3"); ReadJobRuns pairs the lines of each hold, first
// start with first end, and leaves end_ns at -1 when a run's end was never written (its
// process was killed).
struct JobRun {
  std::string center, router, job, hold;
  std::vector<std::string> devices;
  int64_t start_ns = 0, end_ns = -1;
};
std::string LoggedJobScript(const std::string& log, const std::string& seconds);
std::vector<JobRun> ReadJobRuns(const std::string& log);
// Over the runs at `center` (each with its end): no device index used by two runs at
// once, none outside 0..total-1. Returns the most devices in use at once.
size_t ExpectNoDeviceUsedTwice(const std::vector<JobRun>& runs, const std::string& center,
                               int total);

// The finance API. Every settlement `agent` holds, by id (GET /v1/settlements, all pages of
// `limit`; an id listed twice fails the test).
std::map<std::string, boost::json::object> Settlements(const Cluster& cluster, const Agent& agent,
                                                       int limit = 1000);
// Both sides of every settlement between `a_id` and `b_id` in `a` (the records of a_id)
// hold the same record in `b`.
void ExpectSameOnBothSides(const std::map<std::string, boost::json::object>& a,
                           const std::map<std::string, boost::json::object>& b,
                           const std::string& a_id, const std::string& b_id);
// GET /v1/ledger/verify says ok.
void ExpectChainsVerify(const Cluster& cluster, const Agent& agent);
// The total net_fen of GET /v1/balances.
int64_t TotalNet(const Cluster& cluster, const Agent& agent);

// The balances of `agents` sum to 0 fen, and so do the positions GET /v1/netting at `via`
// answers, each center's its own balance (in *net), every center reporting. The netting
// answer (null when it failed).
boost::json::value ExpectNetsToZero(const Cluster& cluster, const std::vector<Agent>& agents,
                                    const Agent& via, std::map<std::string, int64_t>* net);
// GET /v1/datasets/{name} at `agent` as a broker: the status (0 when unreachable) and the
// bytes.
std::pair<int, std::string> Download(const Cluster& cluster, const Agent& agent,
                                     const std::string& name);

// Runs the edwc binary under test with `args` to completion: its exit status, stdout in
// *out and stderr (kept in the file `log`) in *err.
int RunEdwc(std::vector<std::string> args, const std::string& log, std::string* out,
            std::string* err);

}  // namespace edwc::testing
