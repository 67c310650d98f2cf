// The sample workload of `edwc demo`: a broker at an eastern center asks for quotes and
// submits a mix of jobs (cheapest, fastest, greenest, by minimum spec, one that fails),
// then prints where each landed and why, and how each ended; then, once the centers have
// exchanged the settlements of that work, what each center is owed and owes. Blocking;
// run from the demo command's thread once the federation has converged.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace edwc::cli {

struct WorkloadCenter {
  std::string id;
  std::string zone;
  std::string api_url;
};

// A settlement the workload's work should leave in the ledgers. Empty fields match
// anything; `job_prefix`/`job_suffix` match the staged input's transfer, whose id the
// broker does not see (`in.<sha256 prefix>.<dataset>`, docs/datasets.md).
struct ExpectedSettlement {
  std::string what;  // for the timeout message: "compute of llm-pretrain"
  std::string kind;  // compute, egress
  std::string id;
  std::string job;  // compute: the broker's job id; egress: the transfer id
  std::string job_prefix;
  std::string job_suffix;
  std::string payee;
  std::string payer;
};

struct WorkloadResult {
  int submitted = 0;
  int succeeded = 0;
  int failed = 0;  // including the one meant to fail
  int unfinished = 0;
  // One compute settlement per job that ran away from home, one egress settlement per leg
  // of each transfer that moved data between centers.
  std::vector<ExpectedSettlement> to_settle;
};

struct NetPayment {
  std::string from;
  std::string to;
  int64_t amount_fen = 0;
};

// What ShowSettlements found, for demo.json.
struct SettlementSummary {
  bool exchanged = false;  // every expected settlement answered in time, none still offered
  int count = 0;           // distinct settlements in the federation's ledgers
  int64_t sum_of_nets_fen = 0;
  std::vector<NetPayment> payments;  // the netting's fewest payments
  bool verified = false;             // every chain at every center verified
};

// Submits through `home` (the broker's gateway) with `broker_token`, waits at most
// `within` for every job to end and prints the story to stdout.
WorkloadResult RunSampleWorkload(const WorkloadCenter& home, const std::string& ca_file,
                                 const std::string& broker_token, std::chrono::seconds within);

// Waits at most `within` (polling every 200 ms) until every settlement in
// `workload.to_settle` is in a ledger and no center holds an offer unanswered, then prints
// the Settlements section: each center's balance, the sum of the nets, the netting at
// `centers[home]` and whether every ledger chain verifies. `dir` is the demo's, for the
// suggested commands. Never fails: what it cannot read it says so and leaves out.
SettlementSummary ShowSettlements(const std::vector<WorkloadCenter>& centers, size_t home,
                                  const std::string& ca_file, const std::string& finance_token,
                                  const WorkloadResult& workload, const std::string& dir,
                                  std::chrono::seconds within);

// The eastern center a broker would sit at: the first in zone cn-east, else the first.
size_t HomeCenterIndex(const std::vector<WorkloadCenter>& centers);

}  // namespace edwc::cli
