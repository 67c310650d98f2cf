// JobRouter: the ROUTING (home) center's state machine for the jobs its brokers submit
// (DESIGN.md section 5, "Holds"). For each job it walks the ranked candidates: asks one
// target for a hold, commits a granted hold, falls back to the next candidate on a
// rejection, a dead target or an expired hold, then follows the job on the target until
// it ends. Every job ends exactly once: terminal states are absorbing.
//
// Sans-I/O: no clock, no disk, no sockets, no threads. Every call returns `to_persist`
// (job records the driver must write durably BEFORE sending anything or answering the
// broker) and `to_send` (messages to the targets). The driver reports the outcome of
// every send: the decoded answer, or Unreachable after a connect/TLS/timeout error.
// Answers may come late, twice, or for an attempt already abandoned: they are matched
// by hold id and ignored when stale (a late grant of an abandoned hold is released).
//
// Retries use the same hold id, so the target answers idempotently: a hold attempt is
// persisted before its request is sent, and Recover re-sends it after a restart.
// An ambiguous commit is retried until the target says committed or "hold expired";
// giving up would leave the job's fate unknown.
//
// Not thread-safe: the driver serialises calls.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/holds.h"

namespace edwc::federation {

enum class JobState { kPlacing, kHeld, kCommitted, kRunning, kSucceeded, kFailed, kCancelled };
std::string_view JobStateName(JobState state);  // "placing", ...
std::optional<JobState> JobStateFromName(std::string_view name);
inline bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kCancelled;
}

// One ranked placement choice (a copy of what placement returned; not its type).
struct Candidate {
  std::string center;
  std::string peer_url;
  std::string model;
  int32_t count = 0;
  core::Money estimated_total;
  core::Time start{};
  core::Time finish{};
  std::string why;
  bool operator==(const Candidate&) const = default;
};

// The parts of the broker's request the holds need (request_json is kept verbatim).
struct JobSpec {
  core::Duration duration{0};
  std::optional<core::Money> price_cap;
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<JobInput> inputs;
  bool operator==(const JobSpec&) const = default;
};

struct Attempt {
  std::string center;
  std::string hold_id;
  // Empty while outstanding; then "granted", "committed", or why it was abandoned:
  // the target's reason ("too_few_free"), "unreachable: <error>", "hold expired",
  // "refused: <message>" (conflict, not found), "cancelled".
  std::string outcome;
  core::Time at{};
  bool operator==(const Attempt&) const = default;
};

struct JobRecord {
  std::string job_id;
  std::string idempotency_key;
  std::string owner;         // token name
  std::string request_json;  // canonical JSON of the broker's request
  JobSpec spec;
  std::vector<Candidate> candidates;  // ranked
  std::vector<Attempt> attempts;      // attempts[i] went to candidates[i]
  JobState state = JobState::kPlacing;
  core::Duration hold_ttl{0};
  core::Time created_at{};
  std::optional<core::Time> held_at;
  std::optional<core::Time> committed_at;
  std::optional<core::Time> running_at;
  std::optional<core::Time> ended_at;
  std::string ran_on;              // center, once committed
  std::optional<FirmTerms> terms;  // from the granted hold
  std::optional<HoldUsage> usage;  // from the target
  std::string remote_state;        // the target's last reported HoldState name
  std::string failure_reason;      // "no center accepted: a: too_few_free; b: ..."
  bool cancel_requested = false;
  uint64_t version = 0;
  bool operator==(const JobRecord&) const = default;
};

boost::json::object ToJson(const JobRecord& job);
core::Result<JobRecord> JobRecordFromJson(const boost::json::value& value);

// Same key, other request: kConflict naming the first differing top-level field of the
// two JSON objects (keys in the order of `a`, then keys only in `b`). OK when equal.
core::Status CompareRequests(std::string_view a, std::string_view b);

struct Outbound {
  enum class Kind { kHold, kCommit, kRelease, kCancel, kStatus };
  Kind kind = Kind::kHold;
  std::string center;
  std::string peer_url;
  std::string hold_id;
  std::string body;  // JSON: HoldRequest for kHold, empty for the others
  bool operator==(const Outbound&) const = default;
};
std::string_view OutboundKindName(Outbound::Kind kind);

// A target's answer, decoded by the driver.
struct PeerAnswer {
  enum class Kind {
    kRecord,      // a hold record (grant, commit, status, cancel, release)
    kRejected,    // hold refused: `reason`
    kRefused,     // definite error: kFailedPrecondition ("hold expired", "released"),
                  // kConflict, kNotFound, kPermissionDenied; reason = its message
    kUnreachable  // no answer: connect, TLS, timeout, 5xx
  };
  Kind kind = Kind::kUnreachable;
  std::optional<HoldRecord> record;
  std::string reason;
  static PeerAnswer Record(HoldRecord r) { return {Kind::kRecord, std::move(r), {}}; }
  static PeerAnswer Rejected(std::string why) { return {Kind::kRejected, {}, std::move(why)}; }
  static PeerAnswer Refused(std::string why) { return {Kind::kRefused, {}, std::move(why)}; }
  static PeerAnswer Unreachable(std::string e) { return {Kind::kUnreachable, {}, std::move(e)}; }
};

struct RouterOptions {
  std::string self_center;
  // Status of committed/running jobs: every poll_every at first; then a tenth of how long
  // the job has been committed, up to poll_max, so that long jobs cost few polls and an
  // end is still seen within about a tenth of the run.
  core::Duration poll_every{5000};
  core::Duration poll_max{60000};
  core::Duration retry_initial{500};  // first re-send of an ambiguous commit/cancel
  core::Duration retry_max{30000};    // backoff doubles up to this
};

struct RouterResult {
  core::Status status;           // Resubmit: kConflict/kNotFound; Cancel: kNotFound
  std::optional<JobRecord> job;  // the job after the call
  std::vector<JobRecord> to_persist;
  std::vector<Outbound> to_send;
};

class JobRouter {
 public:
  explicit JobRouter(RouterOptions options);

  // A new job (the driver keeps idempotency key -> job id; a known key goes to
  // Resubmit instead). kAlreadyExists if job_id is taken.
  // Persists it placing with its first attempt and sends that hold. With no candidate
  // it fails at once ("no center accepted: no candidates").
  RouterResult Submit(std::string job_id, std::string idempotency_key, std::string owner,
                      std::string request_json, JobSpec spec, std::vector<Candidate> candidates,
                      core::Duration hold_ttl, core::Time now);
  // Same key resubmitted: the existing job if request_json compares equal, else kConflict.
  RouterResult Resubmit(std::string_view job_id, std::string_view request_json) const;

  // Outcomes of sends, matched by Outbound::hold_id.
  RouterResult OnHoldAnswer(std::string_view hold_id, const PeerAnswer& answer, core::Time now);
  RouterResult OnCommitAnswer(std::string_view hold_id, const PeerAnswer& answer, core::Time now);
  RouterResult OnStatus(std::string_view hold_id, const PeerAnswer& answer, core::Time now);
  RouterResult OnCancelAnswer(std::string_view hold_id, const PeerAnswer& answer, core::Time now);
  // Releases are best effort (an unreleased hold expires): no outcome needed.

  // placing: release the outstanding hold, cancelled at once (a late grant is released).
  // held/committed/running: send cancel; the job ends when the target reports a
  // terminal state (released -> cancelled; it may also have succeeded meanwhile).
  // Terminal: no-op, the job as it is.
  RouterResult Cancel(std::string_view job_id, core::Time now);

  // Re-sends due retries and status polls.
  RouterResult Tick(core::Time now);
  std::optional<core::Time> NextDeadline() const;

  // Rebuilds from stored records after a restart and re-sends what was in flight:
  // placing -> the outstanding hold (same id); held -> commit; committed/running ->
  // status; cancel_requested -> cancel.
  RouterResult Recover(std::vector<JobRecord> records, core::Time now);

  const JobRecord* Get(std::string_view job_id) const;
  const std::map<std::string, JobRecord, std::less<>>& jobs() const { return jobs_; }

 private:
  // A message that awaits an outcome or a re-send (memory only; Recover rebuilds it).
  struct Pending {
    Outbound::Kind kind = Outbound::Kind::kStatus;
    core::Time due{};  // re-send (or poll) at
    core::Duration backoff{0};
  };
  JobRecord* FindByHold(std::string_view hold_id, size_t* attempt);
  Outbound HoldMessage(const JobRecord& job, size_t attempt) const;
  Outbound Message(const JobRecord& job, Outbound::Kind kind) const;
  // Records `outcome` for the current attempt and asks the next candidate, or fails.
  void NextCandidate(JobRecord& job, std::string outcome, core::Time now, RouterResult* out);
  void Enter(JobRecord& job, JobState state, core::Time now);
  // Mirrors the target's record; ends the job if the record is terminal.
  void Mirror(JobRecord& job, const HoldRecord& remote, core::Time now);
  void Persist(JobRecord& job, RouterResult* out);
  void Send(JobRecord& job, Outbound::Kind kind, core::Time now, RouterResult* out);
  void Schedule(const JobRecord& job, Outbound::Kind kind, core::Time due, core::Duration backoff);
  // The wait before the next status poll of `job` (see RouterOptions::poll_every).
  core::Duration StatusPollGap(const JobRecord& job, core::Time now) const;

  RouterOptions options_;
  std::map<std::string, JobRecord, std::less<>> jobs_;
  std::map<std::string, std::string, std::less<>> job_of_hold_;  // hold id -> job id
  std::map<std::string, Pending, std::less<>> pending_;          // by job id
};

}  // namespace edwc::federation
