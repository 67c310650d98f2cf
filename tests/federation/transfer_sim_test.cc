// A seeded simulator of the transfer receiver (federation/transfer.h): a virtual source
// answers each fetched chunk after a random delay as stored, corrupt (at a per-seed rate)
// or unreachable; answers are reordered, duplicated and delivered late (also to the
// receiver rebuilt after a crash). Crashes rebuild the receiver from the last persisted
// record plus the persisted chunk events; some crashes hit in the middle of a step, whose
// writes and fetches are then lost.
//
// After every step: no chunk is requested while in flight or once done, at most
// `streams` are in flight, bytes_done is the sum of the done chunks' lengths. At the end
// every seed has either completed with each chunk's ChunkDone persisted exactly once, or
// failed naming a chunk that got max_chunk_attempts corrupt answers.
//
// A failure prints its seed; EDWC_TRANSFER_SIM_SEED=<n> replays that seed alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "federation/transfer.h"

namespace edwc::federation {
namespace {

using std::chrono::milliseconds;

const core::Time kT0 = core::Time(milliseconds(1'800'000'000'000));
constexpr int64_t kChunk = 1000;

struct Answer {
  core::Time due{};
  int64_t chunk = 0;
  ChunkResult result;
  int incarnation = 0;
};

class TransferSim {
 public:
  explicit TransferSim(uint64_t seed) : rng_(seed) {}

  // Empty when every check passed; otherwise the first violation.
  std::string Run();
  std::string outcome() const { return outcome_; }
  // How often each fault happened, to see that they did: "crash", "torn step", ...
  const std::map<std::string, int>& faults() const { return faults_; }

 private:
  void Configure();
  void Persist(const TransferStep& step);
  void Send(const std::vector<int64_t>& fetch, core::Time now);
  // Checks one step of the live receiver; `before` is its in-flight set before the call
  // and `answered` the chunk whose answer the call consumed, if any.
  std::string Check(const std::set<int64_t>& before, std::optional<int64_t> answered,
                    const TransferStep& step) const;
  std::string Apply(const TransferStep& step, const std::set<int64_t>& before,
                    std::optional<int64_t> answered, core::Time now);
  std::string Crash(core::Time now);
  std::string Deliver(core::Time now);
  std::string Finish() const;
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int64_t Between(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

  std::mt19937_64 rng_;
  TransferOptions options_;
  double corrupt_ = 0, unreachable_ = 0, duplicate_ = 0, crash_ = 0, torn_ = 0;
  TransferRecord persisted_;
  std::vector<int64_t> events_;
  std::map<int64_t, int> persisted_done_;  // ChunkDone events persisted, per chunk
  std::map<int64_t, int> corrupt_seen_;    // corrupt answers to this incarnation, per chunk
  std::unique_ptr<TransferReceiver> rx_;
  int incarnation_ = 0;
  std::vector<Answer> network_;
  std::string outcome_;
  std::map<std::string, int> faults_;
};

void TransferSim::Configure() {
  const int64_t chunks = Chance(0.05) ? Between(0, 1) : Between(2, 60);
  options_.streams = static_cast<int32_t>(Between(1, 6));
  options_.max_chunk_attempts = 3;
  const double kCorruptRates[] = {0, 0, 0.05, 0.2, 0.4};
  corrupt_ = kCorruptRates[Between(0, 4)];
  unreachable_ = Chance(0.5) ? 0.1 : 0.3;
  duplicate_ = 0.05;
  crash_ = Chance(0.5) ? 0.01 : 0.04;
  torn_ = 0.01;
  persisted_.id = "t-sim";
  persisted_.dataset = "sim.bin";
  persisted_.manifest.name = "sim.bin";
  persisted_.manifest.chunk_size = kChunk;
  persisted_.manifest.size = chunks == 0 ? 0 : chunks * kChunk - Between(0, kChunk - 1);
  persisted_.manifest.center = "src";
  persisted_.source_center = "src";
  persisted_.dest_center = "dst";
  persisted_.created_at = kT0;
  persisted_.updated_at = kT0;
}

void TransferSim::Persist(const TransferStep& step) {
  for (const ChunkDone& d : step.chunk_done) {
    events_.push_back(d.index);
    ++persisted_done_[d.index];
  }
  if (step.record) persisted_ = *step.record;
}

void TransferSim::Send(const std::vector<int64_t>& fetch, core::Time now) {
  for (int64_t chunk : fetch) {
    Answer a;
    a.due = now + milliseconds(Between(1, 120));
    a.chunk = chunk;
    a.incarnation = incarnation_;
    if (Chance(corrupt_)) {
      a.result = ChunkResult::Corrupt("sha256 mismatch");
    } else if (Chance(unreachable_)) {
      a.result = ChunkResult::Unreachable("timeout");
    }
    network_.push_back(a);
    if (Chance(duplicate_)) {
      a.due += milliseconds(Between(0, 500));
      network_.push_back(a);
      ++faults_["duplicate"];
    }
  }
}

std::string TransferSim::Check(const std::set<int64_t>& before, std::optional<int64_t> answered,
                               const TransferStep& step) const {
  const TransferRecord& r = rx_->record();
  std::set<int64_t> busy = before;
  if (answered) busy.erase(*answered);
  std::set<int64_t> asked;
  for (int64_t f : step.fetch) {
    if (busy.count(f) != 0) return "chunk " + std::to_string(f) + " requested while in flight";
    if (r.chunk_done[f]) return "chunk " + std::to_string(f) + " requested after done";
    if (!asked.insert(f).second) return "chunk " + std::to_string(f) + " requested twice";
  }
  if (rx_->in_flight().size() > static_cast<size_t>(r.streams)) return "more than streams";
  int64_t bytes = 0;
  for (int64_t i = 0; i < r.manifest.chunk_count(); ++i) {
    if (r.chunk_done[i]) bytes += r.manifest.chunk_length(i);
  }
  for (int64_t c : rx_->in_flight()) {
    if (r.chunk_done[c]) return "chunk " + std::to_string(c) + " in flight and done";
  }
  if (bytes != r.bytes_done)
    return "bytes_done " + std::to_string(r.bytes_done) + " != " + std::to_string(bytes);
  if (IsTerminal(r.state) && !(rx_->in_flight().empty() && step.fetch.empty())) {
    return "fetching in state " + std::string(TransferStateName(r.state));
  }
  if (step.finished != (step.record && step.record->state == TransferState::kDone)) {
    return "finished without done";
  }
  return "";
}

std::string TransferSim::Apply(const TransferStep& step, const std::set<int64_t>& before,
                               std::optional<int64_t> answered, core::Time now) {
  if (!step.status.ok()) return "step failed: " + step.status.ToString();
  if (std::string v = Check(before, answered, step); !v.empty()) return v;
  if (Chance(torn_)) {  // before its writes: the step never happened
    ++faults_["torn step"];
    return Crash(now);
  }
  Persist(step);
  Send(step.fetch, now);
  return "";
}

std::string TransferSim::Crash(core::Time now) {
  ++incarnation_;
  ++faults_["crash"];
  // A recovered failure keeps the counts that caused it; anything else starts afresh.
  if (!IsTerminal(persisted_.state)) corrupt_seen_.clear();
  // Some answers of the old incarnation still arrive, late.
  std::erase_if(network_, [&](const Answer&) { return Chance(0.5); });
  rx_ = std::make_unique<TransferReceiver>(options_);
  const TransferStep step = rx_->Recover(persisted_, events_, now);
  if (!step.status.ok()) return "recover: " + step.status.ToString();
  for (int64_t i = 0; i < persisted_.manifest.chunk_count(); ++i) {
    const bool want = (!persisted_.chunk_done.empty() && persisted_.chunk_done[i]) ||
                      persisted_done_.count(i) != 0;
    if (rx_->record().chunk_done[i] != want) return "recover lost chunk " + std::to_string(i);
  }
  return Apply(step, {}, std::nullopt, now);
}

std::string TransferSim::Deliver(core::Time now) {
  std::vector<Answer> due;
  std::erase_if(network_, [&](const Answer& a) {
    if (a.due > now) return false;
    due.push_back(a);
    return true;
  });
  std::shuffle(due.begin(), due.end(), rng_);
  for (const Answer& a : due) {
    if (a.result.kind == ChunkResult::Kind::kCorrupt) ++corrupt_seen_[a.chunk];
    if (a.incarnation != incarnation_) ++faults_["answer from before a crash"];
    if (rx_->in_flight().count(a.chunk) == 0) ++faults_["answer not in flight"];
    const std::set<int64_t> before = rx_->in_flight();
    const TransferStep step = rx_->OnChunk(a.chunk, a.result, now);
    const int before_incarnation = incarnation_;
    if (std::string v = Apply(step, before, a.chunk, now); !v.empty()) return v;
    if (incarnation_ != before_incarnation) break;  // a torn step crashed the receiver
  }
  return "";
}

std::string TransferSim::Finish() const {
  const TransferRecord& r = rx_->record();
  if (r.state == TransferState::kDone) {
    if (persisted_.state != TransferState::kDone) return "done but not persisted";
    for (int64_t i = 0; i < r.manifest.chunk_count(); ++i) {
      auto it = persisted_done_.find(i);
      if (it == persisted_done_.end() || it->second != 1) {
        return "chunk " + std::to_string(i) + " stored " +
               std::to_string(it == persisted_done_.end() ? 0 : it->second) + " times";
      }
    }
    return r.bytes_done == r.manifest.size ? "" : "done with bytes missing";
  }
  if (r.state != TransferState::kFailed) return "ended " + std::string(TransferStateName(r.state));
  int64_t chunk = -1;
  if (std::sscanf(r.error.c_str(), "chunk %ld at byte offset", &chunk) != 1) {
    return "failed for another reason: " + r.error;
  }
  auto it = corrupt_seen_.find(chunk);
  if (it == corrupt_seen_.end() || it->second < options_.max_chunk_attempts) {
    return "failed on chunk " + std::to_string(chunk) + " without enough corrupt answers";
  }
  if (persisted_.state != TransferState::kFailed) return "failure not persisted";
  return "";
}

std::string TransferSim::Run() {
  Configure();
  rx_ = std::make_unique<TransferReceiver>(options_);
  core::Time now = kT0;
  if (std::string v = Apply(rx_->Start(persisted_, now), {}, std::nullopt, now); !v.empty()) {
    return v;
  }
  for (int i = 0; i < 200'000 && !IsTerminal(rx_->record().state); ++i) {
    now += milliseconds(Between(1, 40));
    if (std::string v = Deliver(now); !v.empty()) return v;
    if (IsTerminal(rx_->record().state)) break;
    const std::set<int64_t> before = rx_->in_flight();
    if (std::string v = Apply(rx_->Tick(now), before, std::nullopt, now); !v.empty()) return v;
    if (Chance(crash_)) {
      if (std::string v = Crash(now); !v.empty()) return v;
    }
  }
  // Late answers after the end change nothing.
  for (const Answer& a : network_) {
    const TransferStep step = rx_->OnChunk(a.chunk, a.result, now);
    if (step.record || !step.fetch.empty() || !step.chunk_done.empty()) return "late answer acted";
  }
  outcome_ = std::string(TransferStateName(rx_->record().state));
  return Finish();
}

TEST(TransferSimTest, Seeds) {
  uint64_t first = 1, last = 500;
  if (const char* one = std::getenv("EDWC_TRANSFER_SIM_SEED")) {
    first = last = std::strtoull(one, nullptr, 10);
  }
  std::map<std::string, int> outcomes, faults;
  for (uint64_t seed = first; seed <= last; ++seed) {
    TransferSim sim(seed);
    const std::string violation = sim.Run();
    ASSERT_EQ(violation, "") << "seed " << seed << " (replay: EDWC_TRANSFER_SIM_SEED=" << seed
                             << ")";
    ++outcomes[sim.outcome()];
    for (const auto& [fault, n] : sim.faults()) faults[fault] += n;
  }
  for (const auto& [outcome, n] : outcomes) std::printf("outcome %s: %d\n", outcome.c_str(), n);
  for (const auto& [fault, n] : faults) std::printf("fault %s: %d\n", fault.c_str(), n);
  if (last - first >= 100) {
    EXPECT_GT(outcomes["done"], 0);
    EXPECT_GT(outcomes["failed"], 0);
  }
}

}  // namespace
}  // namespace edwc::federation
