// HoldBook: the TARGET center's book of holds and of the jobs they become (DESIGN.md
// section 5, "Holds"). Capacity is owned by the center that has it: a routing center
// asks for a hold (idempotent id, TTL), this book grants it from live capacity with a
// firm price, and the hold is then committed (and run), released, or expires.
//
// Sans-I/O: no clock, no disk, no sockets, no threads. Time comes in as arguments.
// Every mutation returns `to_persist`: the records the driver must write durably
// (WAL sync) BEFORE it answers anyone or starts/stops an executor. Each record carries
// a `version` that grows with every change, so the driver may write only the newest
// version of each hold id. After a restart the driver rebuilds the book with Recover().
//
// States:  held -> committed -> running -> succeeded | failed | cancelled
//          held -> released | expired
//          committed -> cancelled | failed (the executor could not start it)
// Active (holding devices): held, committed, running. Terminal states are absorbing and
// free the devices.
//
// Invariant: no device index is in two active holds of one model, and no grant is made
// that would bring active devices above total - external_used. SetCapacity may shrink
// capacity below what is active (a Slurm user took devices); that is reported by
// Summary()/CheckInvariants() as over-commit, and nothing new is granted until it clears.
//
// Not thread-safe: the driver serialises calls.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/money.h"
#include "core/price_schedule.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::federation {

enum class HoldState {
  kHeld,
  kCommitted,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled,
  kReleased,
  kExpired,
};
std::string_view HoldStateName(HoldState state);  // "held", "committed", ...
std::optional<HoldState> HoldStateFromName(std::string_view name);
inline bool IsActive(HoldState s) {
  return s == HoldState::kHeld || s == HoldState::kCommitted || s == HoldState::kRunning;
}
inline bool IsTerminal(HoldState s) { return !IsActive(s); }

// What the router asks for. All of it is compared for idempotency (except the TTL,
// which is a transport parameter a retry may recompute).
// A dataset a job reads, pinned to its content: the executing center pulls exactly this
// copy (a transfer from `center`) before the job starts.
struct JobInput {
  std::string dataset;  // its name at `center`
  std::string center;   // where it is
  std::string sha256;   // of the whole dataset, from its manifest at submission
  int64_t size = 0;
  bool operator==(const JobInput&) const = default;
};
inline constexpr size_t kMaxJobInputs = 16;

// What a job left in its output directory, stored as a dataset at the executing center.
struct JobOutput {
  std::string dataset;  // its name there: "<hold id>.output"
  int64_t size = 0;
  std::string sha256;
  bool operator==(const JobOutput&) const = default;
};

struct HoldTerms {
  std::string model;  // catalog id
  int32_t count = 0;  // devices, >= 1
  core::Duration duration{0};
  std::optional<core::Money> price_cap;  // firm estimate above it: rejected
  std::vector<std::string> command;      // argv, run at commit
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<JobInput> inputs;  // fetched after the commit; the job starts when all are in
  bool operator==(const HoldTerms&) const = default;
};

struct HoldRequest {
  std::string hold_id;  // idempotency key chosen by the router: "<router>.<job>.<attempt>"
  std::string job_id;   // the router's job id
  HoldTerms terms;
  core::Duration ttl{0};  // clamped to [kMinHoldTtl, kMaxHoldTtl]
  bool operator==(const HoldRequest&) const = default;
};
inline constexpr core::Duration kMinHoldTtl{1000};
inline constexpr core::Duration kMaxHoldTtl{5 * 60 * 1000};

// The price fixed at grant time; the job is billed with it whatever the schedule does.
struct FirmTerms {
  core::PriceSchedule schedule;
  int32_t surge_permille = 1000;  // price multiplier fixed at grant (pricing::SurgePermille)
  core::Money estimated_total;    // count devices over [granted_at, granted_at + duration)
  bool operator==(const FirmTerms&) const = default;
};

struct HoldUsage {
  core::Time started{};
  core::Time ended{};
  int64_t accelerator_ms = 0;  // count x (ended - started)
  int32_t exit_code = 0;
  std::string message;
  core::Money cost;                 // ComputeCost(firm schedule, count, started, ended, firm surge)
  std::optional<JobOutput> output;  // when the job wrote anything to its output directory
  bool operator==(const HoldUsage&) const = default;
};

struct HoldRecord {
  std::string hold_id;
  std::string job_id;
  std::string router;  // requesting center (from its mTLS certificate)
  HoldTerms terms;
  HoldState state = HoldState::kHeld;
  std::vector<int32_t> devices;  // indices 0..total-1, ascending
  FirmTerms firm;
  core::Time granted_at{};
  core::Time expires_at{};  // of the held state: granted_at + ttl
  std::optional<core::Time> committed_at;
  std::optional<core::Time> started_at;  // running entered
  std::optional<core::Time> ended_at;    // terminal state entered
  std::string executor_ref;              // set by MarkStarted
  bool cancel_requested = false;         // committed/running: waiting for the executor
  std::optional<HoldUsage> usage;        // when it ran (succeeded/failed/cancelled)
  uint64_t version = 0;                  // grows with every change
  bool operator==(const HoldRecord&) const = default;
};

// Storage and the peer wire. FromJson is strict (unknown fields refused).
boost::json::object ToJson(const HoldRequest& request);
core::Result<HoldRequest> HoldRequestFromJson(const boost::json::value& value);
boost::json::object ToJson(const HoldRecord& record);
core::Result<HoldRecord> HoldRecordFromJson(const boost::json::value& value);
// Parts, reused by the router's JobRecord codec.
boost::json::object ToJson(const FirmTerms& terms);
core::Result<FirmTerms> FirmTermsFromJson(const boost::json::value& value);
boost::json::object ToJson(const HoldUsage& usage);
core::Result<HoldUsage> HoldUsageFromJson(const boost::json::value& value);

// Per-counterparty credit: the most this center lets one router owe it (receivable).
struct CreditPolicy {
  std::map<std::string, core::Money, std::less<>> limits;  // by router center
  std::optional<core::Money> default_limit;                // none: unlimited
};

// Prices in force at the moment of a Create.
struct PriceSnapshot {
  std::map<std::string, core::PriceSchedule, std::less<>> schedules;  // by model
  // The multiplier for this grant. When `surge_rule` is set the book computes it instead,
  // from its own live capacity at the moment of the grant:
  // pricing::SurgePermille(rule, total, free before the grant).
  int32_t surge_permille = 1000;
  std::optional<core::SurgeRule> surge_rule;
  CreditPolicy credit;
};

// A refusal: an answer, not an error and not persisted. `reason` is one of
// "no_such_model", "too_few_free" (with `free`), "over_price_cap", "credit_limit".
struct HoldRejection {
  std::string reason;
  int32_t free = 0;
  core::Money estimated_total;  // over_price_cap / credit_limit: the firm estimate
  bool operator==(const HoldRejection&) const = default;
};

struct CreateResult {
  // kInvalidArgument (bad request, field named), kConflict (same id, other content:
  // field names the first difference), kPermissionDenied (another router's hold id).
  core::Status status;
  std::optional<HoldRecord> record;        // granted, now or before (in any state since)
  std::optional<HoldRejection> rejection;  // status ok, no record
  std::vector<HoldRecord> to_persist;
};

struct HoldOpResult {
  // kNotFound (unknown id, or another router's), kFailedPrecondition ("hold expired",
  // "released", "use cancel", ...).
  core::Status status;
  std::optional<HoldRecord> record;
  bool start_executor = false;  // Commit: newly committed; start it after persisting
  bool stop_executor = false;   // Cancel / late MarkStarted: stop record->executor_ref
  std::vector<HoldRecord> to_persist;
};

struct ExecutorOutcome {
  HoldState state = HoldState::kSucceeded;  // succeeded, failed or cancelled
  int32_t exit_code = 0;
  std::string message;
  core::Time started{};
  core::Time ended{};
  std::optional<JobOutput> output;
};

struct CapacitySummary {
  int32_t total = 0;
  int32_t external_used = 0;
  int32_t free = 0;  // max(0, total - external_used - active)
  int32_t held = 0;
  int32_t committed = 0;
  int32_t running = 0;
  bool over_committed = false;  // active > total - external_used (capacity shrank)
  bool operator==(const CapacitySummary&) const = default;
};

struct RecoverResult {
  std::vector<HoldRecord> to_persist;  // helds that expired while we were down
  // Committed and running holds: hand them to the executor's Recover (by executor_ref;
  // a committed one with an empty ref was never started: start it).
  std::vector<HoldRecord> to_resume;
};

class HoldBook {
 public:
  explicit HoldBook(std::string self_center);

  // The capacity source changed (config, or Slurm's GRES counts). Models never set
  // are unknown ("no_such_model").
  void SetCapacity(std::string_view model, int32_t total, int32_t external_used);

  CreateResult Create(const HoldRequest& request, std::string_view router, core::Time now,
                      const PriceSnapshot& prices);
  HoldOpResult Commit(std::string_view hold_id, std::string_view router, core::Time now);
  HoldOpResult Release(std::string_view hold_id, std::string_view router, core::Time now);
  // held -> released; committed not started -> cancelled at once; running -> marks
  // cancel_requested and asks the driver to stop the executor (MarkEnded finishes it).
  HoldOpResult Cancel(std::string_view hold_id, std::string_view router, core::Time now);

  // From the executor. A report for a hold already terminal is answered with its
  // record unchanged (MarkStarted on a cancelled hold sets stop_executor).
  HoldOpResult MarkStarted(std::string_view hold_id, std::string executor_ref,
                           core::Time started_at);
  HoldOpResult MarkEnded(std::string_view hold_id, const ExecutorOutcome& outcome);
  HoldOpResult MarkStartFailed(std::string_view hold_id, std::string message, core::Time now);

  // Expires held holds with now >= expires_at. Returns what to persist.
  std::vector<HoldRecord> Tick(core::Time now);
  // The earliest expires_at of a held hold, for the driver's timer.
  std::optional<core::Time> NextDeadline() const;

  // Replaces the book's holds with `records` (the newest stored version of each).
  // Capacity (SetCapacity) is not stored and must be set again by the driver.
  RecoverResult Recover(std::vector<HoldRecord> records, core::Time now);

  // nullptr when unknown. Valid until the next non-const call.
  const HoldRecord* Get(std::string_view hold_id) const;
  int32_t Free(std::string_view model) const;
  std::map<std::string, CapacitySummary, std::less<>> Summary() const;  // by model
  // What `router` owes or will owe: usage cost of its ended jobs + estimated_total of
  // its active holds.
  core::Money Exposure(std::string_view router) const;
  const std::map<std::string, HoldRecord, std::less<>>& holds() const { return holds_; }

  // OK, or kInternal naming the first broken invariant: a device index in two active
  // holds of one model, a negative index, a count/devices mismatch, or an incremental
  // figure (active holds by model, exposure by router) that differs from a recount of
  // every hold. (Indices at or above a shrunk total are legal: they were granted before
  // the shrink.)
  // Over-commit after a capacity shrink is not a violation (see Summary()).
  core::Status CheckInvariants() const;

 private:
  struct ModelCapacity {
    int32_t total = 0;
    int32_t external_used = 0;
  };
  // The active holds of one model.
  struct ActiveHolds {
    int32_t devices = 0;  // their devices, together
    std::set<std::string, std::less<>> hold_ids;
    bool operator==(const ActiveHolds&) const = default;
  };
  int32_t ActiveDevices(std::string_view model) const;
  // Adds (sign +1) or takes away (-1) what `r`, as it is now, counts for in active_ and
  // exposure_. Every change of a hold's state or usage happens between the two.
  void Account(const HoldRecord& r, int sign);
  core::Status CheckIncrementalFigures() const;
  // Ends active `r` in `state` at `at` (terminal) with `usage` if given, bumping its
  // version.
  void Finish(HoldRecord& r, HoldState state, core::Time at,
              std::optional<HoldUsage> usage = std::nullopt);
  // held and now >= expires_at: expire it, append to *persist.
  void ExpireIfDue(HoldRecord& r, core::Time now, std::vector<HoldRecord>* persist);
  HoldRecord* Find(std::string_view hold_id);
  HoldRecord* Find(std::string_view hold_id, std::string_view router);  // router's only

  std::string self_;
  std::map<std::string, ModelCapacity, std::less<>> capacity_;
  std::map<std::string, HoldRecord, std::less<>> holds_;
  // Kept as holds change so that a Create need not scan every hold the book ever had.
  std::map<std::string, ActiveHolds, std::less<>> active_;     // by model
  std::map<std::string, core::Int128, std::less<>> exposure_;  // by router, fen, exact
};

}  // namespace edwc::federation
