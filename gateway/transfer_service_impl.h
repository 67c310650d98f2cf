// Internal to the transfer service (gateway/transfer_service.h): only its own files include
// this. TransferService::Impl and the helpers more than one of them needs. The files:
//   transfer_service.cc   the public class (routes, loading and resuming in Open, Start/Stop),
//                         what both sides use (zones, peer URLs, the audit log) and the
//                         helpers declared below
//   transfer_receive.cc   the receiving side, and a relay: pulls, verifies and stores chunks
//   transfer_home.cc      the home side: plans, creates, shows and cancels what brokers ask
//   transfer_job_data.cc  JobData: job inputs fetched with transfers, outputs kept as datasets
#pragma once

#include <atomic>
#include <boost/json/fwd.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/center_config.h"
#include "core/dataset.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/transfer.h"
#include "gateway/http_types.h"
#include "gateway/peer_client.h"
#include "gateway/transfer_service.h"
#include "gateway/worker_pool.h"
#include "storage/dataset_store.h"

namespace edwc::federation {
struct JobInput;
}  // namespace edwc::federation

namespace edwc::storage {
class Batch;
}  // namespace edwc::storage

namespace edwc::gateway {

namespace json = boost::json;

struct RouteContext;

namespace transfer_internal {

// Keys in storage::Cf::kTransfers.
inline constexpr std::string_view kRecordPrefix = "r/";  // r/<id>: the receiver's TransferRecord
inline constexpr std::string_view kChunkPrefix = "c/";   // c/<id>/<index>: a chunk stored there
inline constexpr std::string_view kHomePrefix = "h/";    // h/<id>: a transfer requested here
inline constexpr std::string_view kKeyPrefix = "k/";     // k/<owner>/<key>: its Idempotency-Key
inline constexpr std::string_view kAuditPrefix = "a/";   // a/<ms>/<id>/<event>: the audit log
// A relay stages transfer <id> as "<id>.relay".
inline constexpr std::string_view kRelaySuffix = ".relay";

std::string Key(std::string_view prefix, std::string_view rest);

HttpResponse Unavailable(std::string why);
HttpResponse Answer(int status, json::object o);

// What the home keeps of a transfer its brokers asked for; the receiver has the rest.
struct HomeTransfer {
  std::string id, dataset, name, from, to, relay, owner, key, canonical;
  core::Time created_at{};
  std::string state = "creating";  // creating, then the receiver's last known state
  std::string error;
  int64_t bytes_done = 0, total = 0;
};

json::object ToJson(const HomeTransfer& h);
core::Result<HomeTransfer> HomeFromJson(std::string_view text);

// A peer's error answer as a status for our caller (its code and message kept).
core::Status PeerError(std::string_view who, const core::Result<PeerResponse>& r);

}  // namespace transfer_internal

struct TransferService::Impl : std::enable_shared_from_this<Impl> {
  // (Defined where Impl is made: `data` needs JobData complete.)
  Impl(const config::CenterConfig& c, IoRuntime& rt, Metrics* m, const core::Clock* clk);

  const config::CenterConfig config;
  IoRuntime& runtime;
  Metrics* metrics;
  const core::Clock* clock;
  federation::TransferOptions options;
  storage::Store* store = nullptr;
  storage::DatasetStore* datasets = nullptr;
  const ViewSource* view = nullptr;
  std::unique_ptr<PeerClient> peers;   // control calls
  std::unique_ptr<PeerClient> chunks;  // chunk fetches: large answers, many connections
  std::unique_ptr<WorkerPool> files;   // verify, write and sync chunks; open partials
  // (Post returns false once Stop closed it: the task is dropped.)
  std::atomic<bool> open{false};
  std::atomic<uint64_t> bytes_received{0}, chunks_corrupt{0};

  // A transfer this center receives (or stages, as a relay).
  struct Incoming {
    explicit Incoming(federation::TransferOptions o) : rx(o) {}
    federation::TransferReceiver rx;
    std::unique_ptr<storage::PartialDataset> partial;
    std::string pull_url, pull_path;  // chunk i is at pull_path + i on pull_url
    bool staging = false;             // a relay's copy: kept for the next leg, not published
    bool finishing = false;           // every chunk is in; the dataset is being published
    std::vector<int64_t> unsynced;    // written, waiting for a sync before they are recorded
    int64_t unsynced_bytes = 0;
    core::Time unsynced_since{};  // when the oldest of them was written
    bool syncing = false;
    // Every chunk is in, but a sync of some is still running on the file: the finish waits
    // for it (it closes the file).
    std::optional<federation::TransferStep> finish_after_sync;
  };

  std::mutex mu;
  std::function<void(const federation::EgressClaim&)> egress_sink;           // GUARDED_BY(mu)
  std::map<std::string, std::unique_ptr<Incoming>, std::less<>> incoming;    // GUARDED_BY(mu)
  std::map<std::string, transfer_internal::HomeTransfer, std::less<>> home;  // GUARDED_BY(mu)
  std::map<std::string, std::string, std::less<>> home_keys;                 // GUARDED_BY(mu)
  std::vector<std::pair<std::string, federation::TransferStep>> resumed;     // GUARDED_BY(mu)
  // Callers waiting for a transfer received here to end (job inputs).
  std::map<std::string, std::vector<std::function<void(core::Status)>>, std::less<>>
      end_waiters;       // GUARDED_BY(mu)
  bool stopped = false;  // GUARDED_BY(mu)

  class Data;
  std::unique_ptr<JobData> data;  // a Data

  // -- the service (transfer_service.cc)
  void AddMetrics();
  // What Open found in the store: the transfers received here and, by id, their stored
  // chunks; the home side's transfers and keys go straight into `home` and `home_keys`.
  core::Status Load(std::vector<federation::TransferRecord>* records,
                    std::map<std::string, std::vector<int64_t>, std::less<>>* chunk_events);
  core::Status Resume(federation::TransferRecord r, std::vector<int64_t> done, core::Time now);

  // -- common (transfer_service.cc)
  std::string ZoneOf(std::string_view center) const;
  std::string PeerUrlOf(std::string_view center) const;
  void Audit(storage::Batch& batch, std::string_view id, std::string_view event,
             json::object detail);
  bool CrossZone(const federation::TransferRecord& r) const;

  // -- job data (transfer_job_data.cc)
  std::unique_ptr<JobData> NewJobData();
  void WhenEnded(const std::string& id, std::function<void(core::Status)> done);
  void NotifyEnded(const federation::TransferRecord& r);
  // Hands the egress claim of a transfer received here whole to egress_sink.
  void ReportEgress(const federation::TransferRecord& r);
  void Stage(const federation::JobInput& input,
             std::function<void(core::Status, std::string)> done);
  void StageFrom(const federation::JobInput& input, const std::string& name,
                 core::Result<core::DatasetManifest> m,
                 std::function<void(core::Status, std::string)> done);

  // -- receiving side (transfer_receive.cc)
  void HandleCreate(HttpRequest& req, Respond respond);
  void CreateIncoming(federation::TransferRecord record, std::string caller, Respond respond);
  // The part of CreateIncoming that runs on `files`: opens the partial file and starts.
  void StartIncoming(federation::TransferRecord record, Respond respond);
  core::Result<std::unique_ptr<Incoming>> PrepareIncoming(const federation::TransferRecord& r);
  core::Status CheckIncoming(const federation::TransferRecord& r, std::string_view caller) const;
  std::unique_ptr<Incoming> MakeIncoming(const federation::TransferRecord& r);
  void Apply(const std::string& id, federation::TransferStep step,
             std::function<void()> after = {});
  void Fetch(const std::string& id, int64_t index);
  void OnFetched(const std::string& id, int64_t index, core::Result<PeerResponse> r);
  void OnChunk(const std::string& id, int64_t index, const federation::ChunkResult& result);
  void FinishIncoming(const std::string& id, federation::TransferStep step);
  void SyncChunks(const std::string& id);
  void ReleaseRelay(const federation::TransferRecord& r);
  void Tick();
  json::object LocalProgress(const Incoming& in) const;
  void HandlePeerGet(const RouteContext& ctx, std::string_view caller, Respond respond);
  void HandlePeerCancel(const RouteContext& ctx, Respond respond);
  void HandleRelayChunk(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void CancelLocal(const std::string& id, Respond respond);

  // -- home side (transfer_home.cc)
  void Submit(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void Plan(transfer_internal::HomeTransfer h, core::DatasetManifest m, Respond respond);
  // After Plan stored the transfer: creates it at the relay (if any), then the receiver.
  void CreateLegs(transfer_internal::HomeTransfer h, federation::TransferRecord r, Respond respond);
  void CreateAt(const std::string& center, federation::TransferRecord r,
                std::function<void(core::Status)> done);
  void GetManifest(const std::string& from, const std::string& dataset, const std::string& to,
                   std::function<void(core::Result<core::DatasetManifest>)> done);
  void List(const RouteContext& ctx, Respond respond);
  std::optional<transfer_internal::HomeTransfer> Lookup(const RouteContext& ctx,
                                                        const Respond& respond);
  void Show(const RouteContext& ctx, Respond respond);
  void Cancel(const RouteContext& ctx, Respond respond);
  void ListAudit(HttpRequest& req, Respond respond);
  const transfer_internal::HomeTransfer* Visible(const RouteContext& ctx,
                                                 std::string_view id) const;
  void Remember(const std::string& id, const json::object& progress);
};

}  // namespace edwc::gateway
