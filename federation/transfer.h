// Transfers: moving a dataset from the center that holds it to another center
// (DESIGN.md section 5, "Transfers"). Three parts, all pure and deterministic, no I/O:
//
//  - residency rules: which zones a dataset may be copied to (CheckResidency);
//  - path planning: direct, or through one relay center when that is clearly faster,
//    with time and egress estimates (PlanTransfer);
//  - the RECEIVER's state machine (TransferReceiver): which chunks to pull next, retries,
//    progress, and what to persist. The receiving gateway drives it: it fetches the chunks
//    the machine asks for (from the source, or the relay), verifies each against the
//    manifest, writes and syncs it, and reports the outcome with OnChunk.
//
// Persistence: chunk completion must cost O(1)-sized writes, so the machine returns one
// ChunkDone event per stored chunk (the driver writes a small key per event) and the full
// TransferRecord only when the state changes. After a restart the driver hands the last
// record and the chunk events written since to Recover, which rebuilds the bitmap and
// refetches only the missing chunks. The driver persists what a step returns BEFORE it
// acts on the step's fetches or answers anyone.
//
// The functions are thread-safe (no shared state); TransferReceiver is not: the driver
// serialises calls to one receiver.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dataset.h"
#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/gossip.h"

namespace edwc::federation {

// ---- Residency --------------------------------------------------------------------------

using core::ResidencyRule;  // core/dataset.h

// OK, or kFailedPrecondition (field "residency") naming the first rule, in order, that
// applies and does not allow dest_zone:
//   residency rule "personal-data-stays-in-yangtze" keeps datasets tagged [personal] in
//   zones [yangtze]; center wuhu-west is in zone "west"
core::Status CheckResidency(const std::vector<ResidencyRule>& rules, std::string_view dataset_zone,
                            const std::vector<std::string>& dataset_tags,
                            std::string_view dest_center, std::string_view dest_zone);

// ---- Path planning ----------------------------------------------------------------------

struct TransferPlanRequest {
  std::string from;  // the center holding the dataset
  std::string to;    // the receiver
  int64_t bytes = 0;
  int64_t chunk_size = core::kDefaultChunkSize;
  std::string zone;               // the dataset's residency zone
  std::vector<std::string> tags;  // the dataset's classification tags
  bool operator==(const TransferPlanRequest&) const = default;
};

// One hop of data. The receiver of the hop pulls from the sender's peer listener; the
// sender charges its egress price for the bytes.
struct TransferLeg {
  std::string from;      // sender
  std::string to;        // receiver
  std::string peer_url;  // the sender's
  int64_t bandwidth_mbps = 0;
  int32_t rtt_ms = 0;
  bool assumed = false;  // neither end advertises a link: kAssumedBandwidthMbps/RttMs
  core::Money egress;    // pricing::EgressCost(sender's egress_per_gb, bytes)
  bool operator==(const TransferLeg&) const = default;
};

struct TransferPlan {
  std::vector<TransferLeg> legs;  // one (direct) or two (through `relay`)
  core::Duration eta{0};          // of the chosen path
  core::Money egress;             // sum over legs
  std::optional<std::string> relay;
  core::Duration direct_eta{0};  // the direct path's, for comparison
  core::Money direct_egress;
  bool operator==(const TransferPlan&) const = default;
};

// Relays are used only when at least this much faster than direct (10%): a relay stages
// the data at a third center, costs its egress too, and adds a point of failure.
inline constexpr int64_t kRelayMinGainPercent = 10;

// Plans moving `request.bytes` from `from` to `to`.
// Leg link: the one the sender advertises to the receiver, else the reverse one, else the
// assumed link (the rule of placement.h). Times in ms, rounded up:
//   direct = rtt + ceil(bytes x 8 / bandwidth)
//   relay  = rtt1 + rtt2 + ceil(bytes x 8 / min(bw1, bw2))
//            + ceil(min(chunk_size, bytes) x 8 / max(bw1, bw2))   (pipelined per chunk)
// Relays considered: every alive center but from and to whose zone passes residency (the
// data is staged there). The fastest relay is chosen, ties by center id, only when
// relay x 100 <= direct x (100 - kRelayMinGainPercent); otherwise direct.
// Errors, in this order: kInvalidArgument (from == to, bytes < 0, chunk_size <= 0, egress
// beyond int64 fen); CheckResidency's status for `to` when it is in the view (before its
// liveness); kUnavailable naming the center when from or to is not in the view or dead.
// Deterministic whatever the order of `view`. REQUIRES: each center at most once in
// `view`; adverts valid (links sorted by center).
core::Result<TransferPlan> PlanTransfer(const TransferPlanRequest& request,
                                        const std::vector<ViewEntry>& view,
                                        const std::vector<ResidencyRule>& rules);

// {"legs":[{from, to, peer_url, bandwidth_mbps, rtt_ms, assumed, egress_fen, egress_cny}],
//  "eta_ms", "egress_fen", "egress_cny", "relay" (when set), "direct_eta_ms",
//  "direct_egress_fen", "direct_egress_cny"}. FromJson is strict (unknown fields refused,
// the _cny strings must match the fen).
boost::json::object ToJson(const TransferPlan& plan);
core::Result<TransferPlan> TransferPlanFromJson(const boost::json::value& value);

// ---- The receiver -----------------------------------------------------------------------

// queued -> moving -> done | failed | cancelled; queued -> cancelled; done -> failed (the
// whole-file check failed). failed and cancelled are absorbing.
enum class TransferState { kQueued, kMoving, kDone, kFailed, kCancelled };
std::string_view TransferStateName(TransferState state);  // "queued", "moving", ...
std::optional<TransferState> TransferStateFromName(std::string_view name);
inline bool IsTerminal(TransferState s) {
  return s == TransferState::kDone || s == TransferState::kFailed || s == TransferState::kCancelled;
}

// Most chunks one transfer may have (16 TiB at 1 MiB chunks): bounds memory on decode.
inline constexpr int64_t kMaxTransferChunks = int64_t{1} << 24;

struct TransferRecord {
  std::string id;
  std::string dataset;             // name at the destination
  core::DatasetManifest manifest;  // of the source copy
  TransferPlan plan;
  std::string source_center;
  std::string dest_center;
  TransferState state = TransferState::kQueued;
  std::string error;             // failed: why
  std::vector<bool> chunk_done;  // manifest.chunk_count() entries (empty = none done yet)
  int64_t bytes_done = 0;        // sum of the lengths of the done chunks
  core::Time created_at{};
  std::optional<core::Time> started_at;
  std::optional<core::Time> finished_at;  // a terminal state entered
  core::Time updated_at{};
  int32_t streams = 0;          // chunks in flight at most; 0 = TransferOptions::streams
  std::string requested_by;     // principal (token name)
  std::string idempotency_key;  // the caller's, if any
  uint64_t version = 0;         // grows with every persisted change
  bool operator==(const TransferRecord&) const = default;
};

// Storage form: the bitmap travels as "chunks_done": [[first, end), ...] ascending,
// disjoint, non-adjacent ranges. FromJson is strict: unknown fields, ranges outside the
// manifest, a bytes_done that differs from the ranges' lengths are kInvalidArgument
// naming the field.
boost::json::object ToJson(const TransferRecord& record);
core::Result<TransferRecord> TransferRecordFromJson(const boost::json::value& value);

struct TransferOptions {
  int32_t streams = 4;                // chunks in flight at most (unless the record says)
  int32_t max_chunk_attempts = 3;     // corrupt answers for one chunk before failing
  core::Duration retry_initial{200};  // first wait after an unreachable answer
  core::Duration retry_max{10000};    // the wait doubles up to this
  core::Duration rate_window{5000};   // Progress: the rate over the last this long
};

// The gateway's outcome of fetching one chunk.
struct ChunkResult {
  enum class Kind {
    kStored,      // verified against the manifest, written and synced
    kCorrupt,     // failed verification; NOT stored
    kUnreachable  // no answer: connect, TLS, timeout, 5xx
  };
  Kind kind = Kind::kStored;
  std::string reason;
  static ChunkResult Stored() { return {Kind::kStored, {}}; }
  static ChunkResult Corrupt(std::string why) { return {Kind::kCorrupt, std::move(why)}; }
  static ChunkResult Unreachable(std::string why) { return {Kind::kUnreachable, std::move(why)}; }
};

struct ChunkDone {
  int64_t index = 0;
  bool operator==(const ChunkDone&) const = default;
};

// What one call asks of the driver: persist `record` (if set) and `chunk_done`, then send
// the fetches.
struct TransferStep {
  core::Status status;         // Start/Recover/OnChunk: what was wrong with the input
  std::vector<int64_t> fetch;  // chunk indices to request now, ascending within a call
  std::vector<ChunkDone> chunk_done;
  std::optional<TransferRecord> record;  // the state changed: the full record
  bool finished = false;  // every chunk is stored (state done): verify the whole file now
};

struct TransferProgress {
  int64_t bytes_done = 0;
  int64_t total = 0;
  int64_t rate_bytes_per_s = 0;       // over TransferOptions::rate_window; 0 when unknown
  std::optional<core::Duration> eta;  // nullopt when unknown; 0 when done
  bool operator==(const TransferProgress&) const = default;
};

// One per transfer. Chunks are fetched lowest index first, retries before new chunks; a
// chunk is never asked for while in flight or once done, and at most `streams` are in
// flight. A corrupt answer retries the chunk at once, up to max_chunk_attempts answers,
// then the transfer fails naming the chunk, its byte offset and the source. An
// unreachable answer retries the chunk after a backoff (doubling per chunk, reset when it
// is stored); the transfer stays moving. Answers for a chunk that is not in flight are
// ignored unless they say stored (a stored chunk counts once, whenever it is reported);
// every answer is ignored once the transfer is terminal. Attempt counts and backoffs are
// memory only: a restart gives every chunk a fresh count.
class TransferReceiver {
 public:
  explicit TransferReceiver(TransferOptions options = {});

  // queued -> moving (persisted) and the first fetches; an empty dataset is done at once.
  // kFailedPrecondition unless record.state is queued; kInvalidArgument for a record
  // whose bitmap or manifest does not add up (the machine is then left unstarted).
  TransferStep Start(TransferRecord record, core::Time now);

  // After a restart: `record` as last persisted plus every ChunkDone written since
  // (duplicates and chunks already in the record are fine). queued or moving resume as
  // moving; a terminal record is kept as it is (a driver that crashed between done and
  // its whole-file check repeats the check). kCorruption for a chunk index outside the
  // manifest; kInvalidArgument as Start.
  TransferStep Recover(TransferRecord record, const std::vector<int64_t>& done_chunks,
                       core::Time now);

  // The outcome of a fetch of `chunk`. kInvalidArgument for an index outside the manifest.
  TransferStep OnChunk(int64_t chunk, const ChunkResult& result, core::Time now);

  // Re-fetches chunks whose backoff has passed.
  TransferStep Tick(core::Time now);
  // When Tick has something to do; nullopt when nothing waits.
  std::optional<core::Time> NextDeadline() const;

  // moving -> cancelled; no-op (empty step) once terminal or before Start. (A transfer
  // cancelled while still queued never gets a receiver: the driver writes that record.)
  TransferStep Cancel(core::Time now);
  // moving/done -> failed with `reason` (done: the whole-file check failed);
  // no-op once failed or cancelled, or before Start.
  TransferStep Fail(std::string reason, core::Time now);

  TransferProgress Progress(core::Time now) const;

  // REQUIRES: Start or Recover succeeded.
  const TransferRecord& record() const { return record_; }
  bool started() const { return started_; }
  const std::set<int64_t>& in_flight() const { return in_flight_; }

 private:
  core::Status Load(TransferRecord record, core::Time now);
  void Enter(TransferState state, core::Time now, TransferStep* step);
  void MarkStored(int64_t chunk, core::Time now, TransferStep* step);
  void OnCorrupt(int64_t chunk, const std::string& reason, core::Time now, TransferStep* step);
  void OnUnreachable(int64_t chunk, core::Time now);
  // Moves due retries to ready_ and requests chunks until `streams` are in flight.
  void Fill(core::Time now, TransferStep* step);
  std::optional<int64_t> NextChunk();
  bool Moving() const { return started_ && record_.state == TransferState::kMoving; }

  TransferOptions options_;
  TransferRecord record_;
  bool started_ = false;
  size_t streams_ = 0;
  int64_t chunk_count_ = 0;
  int64_t chunks_left_ = 0;
  int64_t cursor_ = 0;  // below it, every chunk not done is in flight, ready or waiting
  std::set<int64_t> in_flight_;
  std::set<int64_t> ready_;                            // to retry now
  std::map<int64_t, core::Time> waiting_;              // to retry at the time given
  std::map<int64_t, core::Duration> backoff_;          // last unreachable delay, per chunk
  std::map<int64_t, int32_t> corrupt_;                 // corrupt answers, per chunk
  std::deque<std::pair<core::Time, int64_t>> recent_;  // (stored at, bytes) in the window
  core::Time active_since_{};                          // Start or Recover
};

}  // namespace edwc::federation
