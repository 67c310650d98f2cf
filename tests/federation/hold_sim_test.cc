// A seeded simulator of the hold protocol (federation/holds.h on the targets,
// federation/job_router.h on the routers) proving that no accelerator is ever booked
// twice and that every job ends exactly once, on a virtual network that loses,
// duplicates, delays and reorders requests and answers, with crashes of targets and
// routers (each loses everything it did not persist) and hold expiry by virtual time.
//
// After every event: per target, no device index in two active holds of a model, and
// no grant while over capacity. At the end (after healing): every granted hold went
// into a terminal state exactly once, every job is terminal, no job ran on two centers,
// router and target agree on the final state of every committed job.
//
// A failure prints its seed; EDWC_HOLD_SIM_SEED=<n> replays that seed alone,
// EDWC_HOLD_SIM_SEEDS=<n> runs seeds 1..n (default 500).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "federation/holds.h"
#include "federation/job_router.h"

namespace edwc::federation {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

const core::Time kT0 = core::Time(milliseconds(1'800'000'000'000));
constexpr const char* kModel = "a100";

struct SimOptions {
  std::vector<int32_t> target_devices = {8, 4, 4};
  int routers = 5;
  int jobs_per_router = 5;
  double loss = 0.08;       // of each request and each answer
  double duplicate = 0.05;  // of each request (processed twice) and each answer
  int min_delay_ms = 1;
  int max_delay_ms = 150;
  core::Duration send_timeout{400};
  core::Duration tick{100};
  core::Duration load_phase{20000};  // submissions, faults; then heal
  core::Duration max_heal{600000};
  double crash_per_tick = 0.004;  // per node per tick during the load phase
  double cancel_share = 0.1;      // of jobs the broker cancels at some point
  double capacity_change_per_tick = 0.01;
};

// Thrown nowhere: a violation is recorded and the run stops at the next check.
class HoldSim {
 public:
  HoldSim(uint64_t seed, SimOptions options) : rng_(seed), options_(std::move(options)) {}

  // Empty when every check passed; otherwise the first violation.
  std::string Run();
  uint64_t events() const { return events_; }
  // Outcome counts, to see that the faults really happened: "job:succeeded",
  // "hold:expired", "crash:target", ...
  const std::map<std::string, uint64_t>& stats() const { return stats_; }

 private:
  struct Exec {
    core::Time start_at{};
    core::Time end_at{};
    bool stop = false;
    bool done = false;
    int32_t exit_code = 0;
    bool start_fails = false;
  };
  struct Target {
    std::string id;
    int32_t total = 0;
    int32_t external_used = 0;
    std::unique_ptr<HoldBook> book;  // null while down
    std::map<std::string, HoldRecord> disk;
    std::map<std::string, int> terminal_transitions;
    std::map<std::string, Exec> exec;  // executors outlive a gateway crash
  };
  struct Router {
    std::string id;
    std::unique_ptr<JobRouter> router;  // null while down
    std::map<std::string, JobRecord> disk;
    std::map<std::string, int> terminal_transitions;
  };
  struct Event {
    core::Time at;
    uint64_t seq;
    std::function<void()> run;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void At(core::Time at, std::function<void()> run) {
    queue_.push(Event{at, next_seq_++, std::move(run)});
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  core::Duration Delay() {
    return milliseconds(Uniform(options_.min_delay_ms, options_.max_delay_ms));
  }
  void Fail(std::string why) {
    if (failure_.empty()) failure_ = "t=" + std::to_string((now_ - kT0).count()) + "ms: " + why;
  }
  int TargetIndex(const std::string& center) const {
    for (size_t i = 0; i < targets_.size(); ++i) {
      if (targets_[i].id == center) return static_cast<int>(i);
    }
    return -1;
  }

  void StartTarget(Target& t);
  void StartRouter(Router& r);
  void PersistHolds(Target& t, const std::vector<HoldRecord>& records);
  void PersistJobs(Router& r, const RouterResult& result);
  void Apply(int router, const RouterResult& result);
  void Send(int router, const Outbound& message);
  std::optional<PeerAnswer> Handle(int target, const std::string& router, const Outbound& m);
  void Deliver(int router, const Outbound& sent, const PeerAnswer& answer);
  void StartExecutor(Target& t, const HoldRecord& r);
  void DriveExecutors(Target& t);
  void Tick();
  void Submit(int router, int k);
  void CheckTarget(const Target& t);
  void CheckEnd();
  bool AllDone() const;
  PriceSnapshot Prices() const {
    PriceSnapshot p;
    p.schedules[kModel] = core::PriceSchedule{core::Money::Fen(1200), {}};
    return p;
  }

  std::mt19937_64 rng_;
  SimOptions options_;
  core::Time now_ = kT0;
  bool healing_ = false;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t next_seq_ = 0;
  uint64_t events_ = 0;
  std::vector<Target> targets_;
  std::vector<Router> routers_;
  std::string failure_;
  int submitted_ = 0;
  std::map<std::string, uint64_t> stats_;
};

// Answers travel as JSON, as on the peer wire.
PeerAnswer OverTheWire(PeerAnswer answer) {
  if (answer.record) {
    auto parsed = HoldRecordFromJson(json::parse(json::serialize(ToJson(*answer.record))));
    if (!parsed.ok()) return PeerAnswer::Refused("undecodable: " + parsed.status().ToString());
    answer.record = std::move(*parsed);
  }
  return answer;
}

void HoldSim::StartTarget(Target& t) {
  t.book = std::make_unique<HoldBook>(t.id);
  t.book->SetCapacity(kModel, t.total, t.external_used);
  std::vector<HoldRecord> stored;
  for (const auto& [id, r] : t.disk) {
    // Through the storage codec, as RocksDB would hand it back.
    auto parsed = HoldRecordFromJson(json::parse(json::serialize(ToJson(r))));
    if (!parsed.ok() || !(*parsed == r)) return Fail("hold codec round trip of " + id);
    stored.push_back(std::move(*parsed));
  }
  RecoverResult rec = t.book->Recover(std::move(stored), now_);
  PersistHolds(t, rec.to_persist);
  for (const HoldRecord& r : rec.to_resume) {
    auto e = t.exec.find(r.hold_id);
    if (e == t.exec.end()) StartExecutor(t, r);  // committed, never launched
  }
}

void HoldSim::StartRouter(Router& r) {
  RouterOptions o;
  o.self_center = r.id;
  o.poll_every = milliseconds(1000);
  o.retry_initial = milliseconds(300);
  o.retry_max = milliseconds(3000);
  r.router = std::make_unique<JobRouter>(o);
  std::vector<JobRecord> stored;
  for (const auto& [id, j] : r.disk) {
    auto parsed = JobRecordFromJson(json::parse(json::serialize(ToJson(j))));
    if (!parsed.ok() || !(*parsed == j)) return Fail("job codec round trip of " + id);
    stored.push_back(std::move(*parsed));
  }
  const int index = static_cast<int>(&r - routers_.data());
  Apply(index, r.router->Recover(std::move(stored), now_));
}

void HoldSim::PersistHolds(Target& t, const std::vector<HoldRecord>& records) {
  for (const HoldRecord& r : records) {
    auto it = t.disk.find(r.hold_id);
    if (it != t.disk.end()) {
      const HoldRecord& prev = it->second;
      if (r.version < prev.version) return Fail("hold " + r.hold_id + " version went back");
      if (r.version == prev.version) {
        if (!(r == prev)) Fail("hold " + r.hold_id + " changed without a new version");
        continue;
      }
      if (IsTerminal(prev.state)) {
        Fail("hold " + r.hold_id + " left terminal state " +
             std::string(HoldStateName(prev.state)) + " for " +
             std::string(HoldStateName(r.state)));
      }
    }
    if (IsTerminal(r.state) && (it == t.disk.end() || !IsTerminal(it->second.state))) {
      ++t.terminal_transitions[r.hold_id];
    }
    t.disk[r.hold_id] = r;
  }
}

void HoldSim::PersistJobs(Router& r, const RouterResult& result) {
  for (const JobRecord& j : result.to_persist) {
    auto it = r.disk.find(j.job_id);
    if (it != r.disk.end()) {
      if (j.version <= it->second.version) return Fail("job " + j.job_id + " version not new");
      if (IsTerminal(it->second.state)) {
        Fail("job " + j.job_id + " left terminal state " +
             std::string(JobStateName(it->second.state)));
      }
    }
    if (IsTerminal(j.state) && (it == r.disk.end() || !IsTerminal(it->second.state))) {
      ++r.terminal_transitions[j.job_id];
    }
    r.disk[j.job_id] = j;
  }
}

void HoldSim::Apply(int router, const RouterResult& result) {
  PersistJobs(routers_[router], result);  // durable before anything is sent
  for (const Outbound& m : result.to_send) Send(router, m);
}

void HoldSim::Send(int router, const Outbound& m) {
  const core::Time sent = now_;
  const int target = TargetIndex(m.center);
  auto unreachable = [this, router, m] { Deliver(router, m, PeerAnswer::Unreachable("timeout")); };
  if (target < 0) return At(sent + options_.send_timeout, unreachable);
  if (Chance(options_.loss)) return At(sent + options_.send_timeout, unreachable);
  const std::string from = routers_[router].id;
  if (Chance(options_.duplicate)) {  // a copy whose answer nobody waits for
    At(sent + Delay(), [this, target, from, m] { Handle(target, from, m); });
  }
  At(sent + Delay(), [this, router, target, from, m, sent, unreachable] {
    std::optional<PeerAnswer> answer = Handle(target, from, m);
    const core::Time deadline = sent + options_.send_timeout;
    const core::Time arrives = now_ + Delay();
    if (!answer || Chance(options_.loss) || arrives > deadline) return At(deadline, unreachable);
    At(arrives, [this, router, m, a = OverTheWire(*answer)] { Deliver(router, m, a); });
    if (Chance(options_.duplicate)) {
      At(arrives + Delay(), [this, router, m, a = *answer] { Deliver(router, m, a); });
    }
  });
}

std::optional<PeerAnswer> HoldSim::Handle(int target, const std::string& router,
                                          const Outbound& m) {
  Target& t = targets_[target];
  if (!t.book) return std::nullopt;
  ++events_;
  auto from_op = [&](const HoldOpResult& r) {
    PersistHolds(t, r.to_persist);
    if (r.start_executor) StartExecutor(t, *r.record);
    if (r.stop_executor) {
      auto e = t.exec.find(std::string(m.hold_id));
      if (e != t.exec.end()) e->second.stop = true;
    }
    if (!r.status.ok()) return PeerAnswer::Refused(r.status.message());
    return PeerAnswer::Record(*r.record);
  };
  switch (m.kind) {
    case Outbound::Kind::kHold: {
      auto q = HoldRequestFromJson(json::parse(m.body));
      if (!q.ok()) {
        Fail("undecodable hold request: " + q.status().ToString());
        return std::nullopt;
      }
      const bool over_before = t.book->Summary()[kModel].over_committed;
      CreateResult c = t.book->Create(*q, router, now_, Prices());
      PersistHolds(t, c.to_persist);
      for (const HoldRecord& r : c.to_persist) {
        if (r.state == HoldState::kHeld && r.version == 1) {
          CapacitySummary s = t.book->Summary()[kModel];
          if (over_before || s.over_committed) {
            Fail("grant of " + r.hold_id + " on " + t.id + " while over capacity");
          }
        }
      }
      if (!c.status.ok()) return PeerAnswer::Refused(c.status.message());
      if (c.rejection) return PeerAnswer::Rejected(c.rejection->reason);
      return PeerAnswer::Record(*c.record);
    }
    case Outbound::Kind::kCommit:
      return from_op(t.book->Commit(m.hold_id, router, now_));
    case Outbound::Kind::kRelease:
      return from_op(t.book->Release(m.hold_id, router, now_));
    case Outbound::Kind::kCancel:
      return from_op(t.book->Cancel(m.hold_id, router, now_));
    case Outbound::Kind::kStatus: {
      const HoldRecord* r = t.book->Get(m.hold_id);
      if (r == nullptr || r->router != router) return PeerAnswer::Refused("not found");
      return PeerAnswer::Record(*r);
    }
  }
  return std::nullopt;
}

void HoldSim::Deliver(int router, const Outbound& sent, const PeerAnswer& answer) {
  Router& r = routers_[router];
  if (!r.router) return;
  ++events_;
  switch (sent.kind) {
    case Outbound::Kind::kHold:
      return Apply(router, r.router->OnHoldAnswer(sent.hold_id, answer, now_));
    case Outbound::Kind::kCommit:
      return Apply(router, r.router->OnCommitAnswer(sent.hold_id, answer, now_));
    case Outbound::Kind::kStatus:
      return Apply(router, r.router->OnStatus(sent.hold_id, answer, now_));
    case Outbound::Kind::kCancel:
      return Apply(router, r.router->OnCancelAnswer(sent.hold_id, answer, now_));
    case Outbound::Kind::kRelease:
      return;
  }
}

void HoldSim::StartExecutor(Target& t, const HoldRecord& r) {
  Exec e;
  e.start_at = now_ + milliseconds(Uniform(0, 100));
  e.end_at = e.start_at + r.terms.duration;
  e.exit_code = Chance(0.2) ? 1 : 0;
  e.start_fails = Chance(0.05);
  t.exec[r.hold_id] = e;
}

void HoldSim::DriveExecutors(Target& t) {
  for (auto& [id, e] : t.exec) {
    if (e.done) continue;
    const HoldRecord* r = t.book->Get(id);
    if (r == nullptr) return Fail("executor for unknown hold " + id);
    if (IsTerminal(r->state)) {  // cancelled before it started
      e.done = true;
      continue;
    }
    if (r->state == HoldState::kCommitted && now_ >= e.start_at && e.start_fails) {
      PersistHolds(t, t.book->MarkStartFailed(id, "exec format error", now_).to_persist);
      e.done = true;
      continue;
    }
    if (r->state == HoldState::kCommitted && now_ >= e.start_at) {
      HoldOpResult s = t.book->MarkStarted(id, "exec-" + id, e.start_at);
      PersistHolds(t, s.to_persist);
    }
    if (r->state != HoldState::kRunning) continue;
    if (e.stop) {
      ExecutorOutcome o{HoldState::kCancelled, 143, "stopped", e.start_at, now_};
      PersistHolds(t, t.book->MarkEnded(id, o).to_persist);
      e.done = true;
    } else if (now_ >= e.end_at) {
      ExecutorOutcome o{e.exit_code == 0 ? HoldState::kSucceeded : HoldState::kFailed, e.exit_code,
                        "", e.start_at, e.end_at};
      PersistHolds(t, t.book->MarkEnded(id, o).to_persist);
      e.done = true;
    }
  }
}

void HoldSim::Tick() {
  ++events_;
  for (Target& t : targets_) {
    if (!healing_ && Chance(options_.crash_per_tick)) {
      if (t.book) {
        ++stats_["crash:target"];
        t.book.reset();  // memory lost; executors not yet launched die with the gateway
        for (auto it = t.exec.begin(); it != t.exec.end();) {
          it = it->second.start_at > now_ ? t.exec.erase(it) : std::next(it);
        }
        At(now_ + milliseconds(Uniform(100, 3000)), [this, &t] { StartTarget(t); });
      }
    }
    if (!healing_ && Chance(options_.capacity_change_per_tick)) {
      t.external_used = static_cast<int32_t>(Uniform(0, t.total / 4));
      if (t.book) t.book->SetCapacity(kModel, t.total, t.external_used);
    }
    if (!t.book) continue;
    PersistHolds(t, t.book->Tick(now_));
    DriveExecutors(t);
  }
  for (size_t i = 0; i < routers_.size(); ++i) {
    Router& r = routers_[i];
    if (!healing_ && Chance(options_.crash_per_tick) && r.router) {
      ++stats_["crash:router"];
      r.router.reset();
      At(now_ + milliseconds(Uniform(100, 3000)), [this, &r] { StartRouter(r); });
    }
    if (r.router) Apply(static_cast<int>(i), r.router->Tick(now_));
  }
  At(now_ + options_.tick, [this] { Tick(); });
}

void HoldSim::CheckTarget(const Target& t) {
  std::map<int32_t, std::string> owner;
  for (const auto& [id, r] : t.disk) {
    if (!IsActive(r.state)) continue;
    for (int32_t d : r.devices) {
      if (d < 0 || d >= t.total) Fail(t.id + ": hold " + id + " has device " + std::to_string(d));
      auto [it, inserted] = owner.emplace(d, id);
      if (!inserted) {
        Fail(t.id + ": device " + std::to_string(d) + " in " + it->second + " and " + id);
      }
    }
  }
  if (t.book) {
    core::Status st = t.book->CheckInvariants();
    if (!st.ok()) Fail(t.id + ": " + st.ToString());
  }
}

bool HoldSim::AllDone() const {
  if (submitted_ != options_.routers * options_.jobs_per_router) return false;
  for (const Router& r : routers_) {
    if (!r.router) return false;
    for (const auto& [id, j] : r.disk) {
      if (!IsTerminal(j.state)) return false;
    }
  }
  for (const Target& t : targets_) {
    if (!t.book) return false;
    for (const auto& [id, h] : t.disk) {
      if (IsActive(h.state)) return false;
    }
  }
  return true;
}

void HoldSim::CheckEnd() {
  size_t jobs = 0;
  for (const Router& r : routers_) {
    jobs += r.disk.size();
    for (const auto& [id, j] : r.disk) {
      if (!IsTerminal(j.state))
        Fail("job " + id + " not terminal: " + std::string(JobStateName(j.state)));
      if (r.terminal_transitions.count(id) == 0 || r.terminal_transitions.at(id) != 1) {
        Fail("job " + id + " ended " +
             std::to_string(r.terminal_transitions.count(id) ? r.terminal_transitions.at(id) : 0) +
             " times");
      }
    }
  }
  if (jobs != static_cast<size_t>(options_.routers * options_.jobs_per_router)) {
    Fail("only " + std::to_string(jobs) + " jobs were persisted");
  }
  std::map<std::string, std::string> ran_on;  // router/job -> target
  for (const Target& t : targets_) {
    for (const auto& [id, h] : t.disk) {
      if (!IsTerminal(h.state))
        Fail(t.id + ": hold " + id + " still " + std::string(HoldStateName(h.state)));
      auto n = t.terminal_transitions.find(id);
      if (n == t.terminal_transitions.end() || n->second != 1) {
        Fail(t.id + ": hold " + id + " ended " +
             std::to_string(n == t.terminal_transitions.end() ? 0 : n->second) + " times");
      }
      if (!h.committed_at) continue;
      const std::string key = h.router + "/" + h.job_id;
      if (ran_on.contains(key)) Fail("job " + key + " ran on " + ran_on[key] + " and " + t.id);
      ran_on[key] = t.id;
      const Router* router = nullptr;
      for (const Router& r : routers_) {
        if (r.id == h.router) router = &r;
      }
      auto j = router ? router->disk.find(h.job_id) : decltype(router->disk.end()){};
      if (router == nullptr || j == router->disk.end()) {
        Fail("hold " + id + " committed for unknown job");
        continue;
      }
      const JobRecord& job = j->second;
      const std::string want = std::string(HoldStateName(h.state));
      if (job.ran_on != t.id || std::string(JobStateName(job.state)) != want ||
          job.usage != h.usage) {
        Fail("job " + key + " is " + std::string(JobStateName(job.state)) + " on '" + job.ran_on +
             "' at its router, " + want + " on " + t.id);
      }
    }
  }
  for (const Router& r : routers_) {
    for (const auto& [id, j] : r.disk) {
      if (!j.ran_on.empty() && !ran_on.contains(r.id + "/" + id)) {
        Fail("job " + r.id + "/" + id + " says it ran on " + j.ran_on + ", no target committed it");
      }
    }
  }
}

void HoldSim::Submit(int i, int k) {
  Router& r = routers_[i];
  if (!r.router) {  // the broker retries later
    return At(now_ + milliseconds(200), [this, i, k] { Submit(i, k); });
  }
  ++submitted_;
  std::vector<int> order(targets_.size());
  for (size_t x = 0; x < order.size(); ++x) order[x] = static_cast<int>(x);
  std::shuffle(order.begin(), order.end(), rng_);
  const auto count = static_cast<int32_t>(Uniform(1, 4));
  std::vector<Candidate> candidates;
  for (int x : order) {
    if (Chance(0.2)) continue;  // placement did not rank every center
    candidates.push_back(Candidate{targets_[x].id,
                                   "https://" + targets_[x].id + ".example",
                                   kModel,
                                   count,
                                   {},
                                   now_,
                                   now_,
                                   "sim"});
  }
  JobSpec spec{milliseconds(Uniform(500, 4000)), {}, {"run"}, {}};
  const std::string job_id = "j" + std::to_string(k);
  Apply(i, r.router->Submit(job_id, "key-" + job_id, "broker", "{\"n\":" + std::to_string(k) + "}",
                            spec, std::move(candidates), milliseconds(Uniform(1000, 2000)), now_));
  if (Chance(options_.cancel_share)) {
    At(now_ + milliseconds(Uniform(0, 3000)), [this, i, job_id] {
      Router& rr = routers_[i];
      if (rr.router && rr.router->Get(job_id)) Apply(i, rr.router->Cancel(job_id, now_));
    });
  }
}

std::string HoldSim::Run() {
  for (size_t i = 0; i < options_.target_devices.size(); ++i) {
    Target t;
    t.id = "t" + std::to_string(i);
    t.total = options_.target_devices[i];
    targets_.push_back(std::move(t));
  }
  for (int i = 0; i < options_.routers; ++i) {
    Router r;
    r.id = "r" + std::to_string(i);
    routers_.push_back(std::move(r));
  }
  for (Target& t : targets_) StartTarget(t);
  for (Router& r : routers_) StartRouter(r);
  for (int i = 0; i < options_.routers; ++i) {
    for (int k = 0; k < options_.jobs_per_router; ++k) {
      const core::Time at = kT0 + milliseconds(Uniform(0, options_.load_phase.count() * 3 / 4));
      At(at, [this, i, k] { Submit(i, k); });
    }
  }
  At(kT0, [this] { Tick(); });
  const core::Time heal_at = kT0 + options_.load_phase;
  const core::Time stop_at = heal_at + options_.max_heal;
  bool healed = false;
  while (!queue_.empty() && failure_.empty()) {
    Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    if (!healed && now_ >= heal_at) {
      healed = true;
      healing_ = true;
      options_.loss = 0;
      options_.duplicate = 0;
    }
    if (now_ > stop_at) break;
    e.run();
    for (const Target& t : targets_) CheckTarget(t);
    if (healing_ && AllDone()) {
      CheckEnd();
      for (const Router& r : routers_) {
        for (const auto& [id, j] : r.disk) {
          ++stats_["job:" + std::string(JobStateName(j.state))];
          stats_["job:attempts"] += j.attempts.size();
        }
      }
      for (const Target& t : targets_) {
        for (const auto& [id, h] : t.disk) ++stats_["hold:" + std::string(HoldStateName(h.state))];
      }
      break;
    }
  }
  if (failure_.empty() && !AllDone()) Fail("did not settle within the heal phase");
  return failure_;
}

std::optional<uint64_t> EnvNumber(const char* name) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return std::nullopt;
  return std::strtoull(s, nullptr, 10);
}

TEST(HoldSimTest, NoDoubleBookingAndEveryJobEndsOnce) {
  std::vector<uint64_t> seeds;
  if (auto one = EnvNumber("EDWC_HOLD_SIM_SEED")) {
    seeds.push_back(*one);
  } else {
    const uint64_t n = EnvNumber("EDWC_HOLD_SIM_SEEDS").value_or(500);
    for (uint64_t s = 1; s <= n; ++s) seeds.push_back(s);
  }
  uint64_t events = 0;
  std::map<std::string, uint64_t> stats;
  for (uint64_t seed : seeds) {
    HoldSim sim(seed, SimOptions{});
    std::string failure = sim.Run();
    events += sim.events();
    for (const auto& [k, v] : sim.stats()) stats[k] += v;
    if (!failure.empty()) {
      ADD_FAILURE() << "seed " << seed << " (replay with EDWC_HOLD_SIM_SEED=" << seed
                    << "): " << failure;
      return;
    }
  }
  std::printf("%zu seeds, %llu events\n", seeds.size(), static_cast<unsigned long long>(events));
  for (const auto& [k, v] : stats) {
    std::printf("  %s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
}

}  // namespace
}  // namespace edwc::federation
