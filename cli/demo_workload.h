// The sample workload of `edwc demo`: a broker at an eastern center asks for quotes and
// submits a mix of jobs (cheapest, fastest, greenest, by minimum spec, one that fails),
// then prints where each landed and why, and how each ended. Blocking; run from the demo
// command's thread once the federation has converged.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace edwc::cli {

struct WorkloadCenter {
  std::string id;
  std::string zone;
  std::string api_url;
};

struct WorkloadResult {
  int submitted = 0;
  int succeeded = 0;
  int failed = 0;  // including the one meant to fail
  int unfinished = 0;
};

// Submits through `home` (the broker's gateway) with `broker_token`, waits at most
// `within` for every job to end and prints the story to stdout.
WorkloadResult RunSampleWorkload(const WorkloadCenter& home, const std::string& ca_file,
                                 const std::string& broker_token, std::chrono::seconds within);

// The eastern center a broker would sit at: the first in zone cn-east, else the first.
size_t HomeCenterIndex(const std::vector<WorkloadCenter>& centers);

}  // namespace edwc::cli
