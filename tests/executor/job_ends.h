// Ends: collects an executor's JobEnded calls so that tests wait on them (a condition
// variable, no sleeps) and count them (exactly once per job). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "executor/job_executor.h"

namespace edwc::executor {

class Ends {
 public:
  JobEnded Callback() {
    return [this](const std::string& id, JobOutcome outcome) {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_[id];
      outcomes_[id] = std::move(outcome);
      cv_.notify_all();
    };
  }

  // The outcome of `id`, waiting up to `within` for it.
  std::optional<JobOutcome> Await(const std::string& id, std::chrono::seconds within) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, within, [&] { return outcomes_.contains(id); })) return std::nullopt;
    return outcomes_.at(id);
  }

  int Calls(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.contains(id) ? calls_.at(id) : 0;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, JobOutcome> outcomes_;
  std::map<std::string, int> calls_;
};

}  // namespace edwc::executor
