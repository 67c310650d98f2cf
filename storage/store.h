// Store: the gateway's one RocksDB database, with a column family per kind of record
// and a durable, group-committing write path.
//
// Durability: a write is acknowledged (its callback runs with OK, or Write returns OK)
// only after it is in the WAL and the WAL is fsynced. Concurrent writes are grouped:
// one writer thread takes every batch queued while the previous sync ran, appends them
// into one rocksdb::WriteBatch, writes it with sync=true, and then acknowledges all of
// them. Callers on I/O threads use the callback form and never block.
//
// Thread-safety: all methods are thread-safe. Callbacks run on the writer thread; they
// must be quick (post elsewhere for real work).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace edwc::storage {

// Column families. Names on disk are the lower-case names from CfName().
enum class Cf : uint8_t { kMeta, kAdverts, kHolds, kJobs, kTransfers, kLedger };
inline constexpr int kCfCount = 6;
std::string_view CfName(Cf cf);

// A set of puts and deletes applied atomically.
class Batch {
 public:
  void Put(Cf cf, std::string key, std::string value);
  void Delete(Cf cf, std::string key);
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

  struct Op {
    Cf cf;
    std::string key;
    std::optional<std::string> value;  // nullopt = delete
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

struct StoreOptions {
  std::string path;                  // directory; created if missing
  bool sync = true;                  // false only for benchmarks that say so
  size_t max_group_bytes = 4 << 20;  // cap on one grouped WriteBatch
};

// Counters for metrics and tests.
struct StoreStats {
  uint64_t batches_written = 0;  // batches acknowledged
  uint64_t syncs = 0;            // grouped writes (one fsync each)
};

class Store {
 public:
  using Done = std::function<void(core::Status)>;

  // Opens (creating if missing) the database and its column families and starts the
  // writer thread.
  static core::Result<std::unique_ptr<Store>> Open(const StoreOptions& options);

  virtual ~Store() = default;

  // Queues `batch`; `done` runs once it is durable (OK) or failed. Never blocks on I/O.
  // `done` runs under the request id current here (core/request_id.h).
  virtual void WriteAsync(Batch batch, Done done) = 0;

  // Blocking convenience: queues and waits. REQUIRES: not called on an I/O thread.
  virtual core::Status Write(Batch batch) = 0;

  // Point read of the latest committed value; nullopt when absent.
  virtual core::Result<std::optional<std::string>> Get(Cf cf, std::string_view key) = 0;

  // Calls fn(key, value) for each key with `prefix`, in key order, until it returns false.
  virtual core::Status Scan(Cf cf, std::string_view prefix,
                            const std::function<bool(std::string_view, std::string_view)>& fn) = 0;
  // The same from the first key >= `start` (keys before it are skipped without reading).
  virtual core::Status ScanFrom(
      Cf cf, std::string_view prefix, std::string_view start,
      const std::function<bool(std::string_view, std::string_view)>& fn) = 0;

  virtual StoreStats stats() const = 0;
};

using StorePtr = std::unique_ptr<Store>;

// Reads meta key "epoch" (0 when absent), writes epoch+1 durably, and returns it. Called
// once at every start so that each run of a center has a larger epoch than the last.
core::Result<uint64_t> BumpEpoch(Store& store);

}  // namespace edwc::storage
