// Durable write throughput of storage::Store: one writer waiting for each sync, N writers
// sharing syncs through group commit, and unsynced writes for reference.
//
// The database lives under $EDWC_BENCH_DIR (default: the system temp directory); point it
// at the disk the gateway will use, since a tmpfs makes fsync free.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>

#include "storage/store.h"

namespace edwc::storage {
namespace {

constexpr size_t kValueBytes = 256;

// A fresh database directory, removed with the object.
class TempDb {
 public:
  TempDb() {
    const char* base = std::getenv("EDWC_BENCH_DIR");
    std::filesystem::path root = base ? base : std::filesystem::temp_directory_path();
    std::string tmpl = (root / "edwc_store_bench_XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDb() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

StorePtr OpenStore(benchmark::State& state, const TempDb& dir, bool sync) {
  if (dir.path().empty()) {
    state.SkipWithError("mkdtemp failed");
    return nullptr;
  }
  StoreOptions options;
  options.path = dir.path();
  options.sync = sync;
  auto store = Store::Open(options);
  if (!store.ok()) {
    state.SkipWithError(store.status().message().c_str());
    return nullptr;
  }
  return std::move(store).value();
}

Batch OneRecord(uint64_t i, const std::string& value) {
  // Appending rather than `"k" + std::to_string(i)`, which trips GCC 12's -Wrestrict
  // false positive (GCC PR 105651) in Release builds.
  std::string key = "k";
  key += std::to_string(i);
  Batch batch;
  batch.Put(Cf::kLedger, std::move(key), value);
  return batch;
}

void ReportGrouping(benchmark::State& state, const Store& store) {
  StoreStats stats = store.stats();
  state.SetItemsProcessed(static_cast<int64_t>(stats.batches_written));
  state.counters["batches_per_sync"] =
      stats.syncs ? static_cast<double>(stats.batches_written) / stats.syncs : 0.0;
}

// One caller issuing Write after Write, each waiting for its answer.
void WriteOneAtATime(benchmark::State& state, bool sync) {
  TempDb dir;
  StorePtr store = OpenStore(state, dir, sync);
  if (!store) return;
  const std::string value(kValueBytes, 'v');
  uint64_t i = 0;
  for (auto _ : state) {
    core::Status st = store->Write(OneRecord(i++, value));
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
  }
  ReportGrouping(state, *store);
}

// One caller, each Write waits for its own fsync.
void BM_DurableWriteSingle(benchmark::State& state) { WriteOneAtATime(state, /*sync=*/true); }
BENCHMARK(BM_DurableWriteSingle)->UseRealTime();

// `range(0)` writers, modelled as that many WriteAsync calls kept in flight, as I/O
// threads would issue them: a new write starts as soon as one is acknowledged.
void BM_DurableWriteGrouped(benchmark::State& state) {
  TempDb dir;
  StorePtr store = OpenStore(state, dir, /*sync=*/true);
  if (!store) return;
  const std::string value(kValueBytes, 'v');
  const int64_t writers = state.range(0);
  std::mutex mu;
  std::condition_variable acked;
  int64_t in_flight = 0;
  bool failed = false;
  uint64_t i = 0;
  for (auto _ : state) {
    std::unique_lock lock(mu);
    acked.wait(lock, [&] { return in_flight < writers; });
    ++in_flight;
    lock.unlock();
    store->WriteAsync(OneRecord(i++, value), [&](core::Status st) {
      std::lock_guard guard(mu);
      failed |= !st.ok();
      --in_flight;
      acked.notify_one();
    });
  }
  std::unique_lock lock(mu);
  acked.wait(lock, [&] { return in_flight == 0; });
  if (failed) state.SkipWithError("a durable write failed");
  ReportGrouping(state, *store);
}
BENCHMARK(BM_DurableWriteGrouped)
    ->ArgName("writers")
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Arg(64)
    ->UseRealTime();

// Reference: the same path without fsync (what grouping cannot beat).
void BM_WriteNoSync(benchmark::State& state) { WriteOneAtATime(state, /*sync=*/false); }
BENCHMARK(BM_WriteNoSync)->UseRealTime();

}  // namespace
}  // namespace edwc::storage

BENCHMARK_MAIN();
