// RocksDB implementation of Store: column families per record kind, and a single writer
// thread that group-commits durable writes.
//
// Why group commit: an fsync costs ~200 us on this machine (~5,000/s), so one sync per
// caller would cap the whole gateway at ~5,000 durable writes/s however many cores it
// has. The writer takes every batch queued while the previous sync ran and commits them
// as one WriteBatch with one fsync, so N concurrent writers cost one fsync, not N.
#include "storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include "core/request_id.h"

namespace edwc::storage {

std::string_view CfName(Cf cf) {
  switch (cf) {
    case Cf::kMeta:
      return "meta";
    case Cf::kAdverts:
      return "adverts";
    case Cf::kHolds:
      return "holds";
    case Cf::kJobs:
      return "jobs";
    case Cf::kTransfers:
      return "transfers";
    case Cf::kLedger:
      return "ledger";
  }
  return "unknown";
}

void Batch::Put(Cf cf, std::string key, std::string value) {
  ops_.push_back(Op{cf, std::move(key), std::move(value)});
}

void Batch::Delete(Cf cf, std::string key) { ops_.push_back(Op{cf, std::move(key), std::nullopt}); }

namespace {

core::Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return core::Status::Ok();
  core::Code code = core::Code::kInternal;
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      code = core::Code::kNotFound;
      break;
    case rocksdb::Status::kCorruption:
      code = core::Code::kCorruption;
      break;
    case rocksdb::Status::kInvalidArgument:
      code = core::Code::kInvalidArgument;
      break;
    case rocksdb::Status::kIOError:
      code = core::Code::kIoError;
      break;
    case rocksdb::Status::kNotSupported:
    case rocksdb::Status::kExpired:
    case rocksdb::Status::kColumnFamilyDropped:
      code = core::Code::kFailedPrecondition;
      break;
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kShutdownInProgress:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kAborted:
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
      code = core::Code::kUnavailable;
      break;
    default:
      break;
  }
  return core::Status(code, std::string(context) + ": " + s.ToString());
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// Rough size of a batch in a WriteBatch, for the group cap.
size_t ApproximateBytes(const Batch& batch) {
  size_t bytes = 0;
  for (const Batch::Op& op : batch.ops()) {
    bytes += op.key.size() + (op.value ? op.value->size() : 0) + 16;
  }
  return bytes;
}

class RocksStore final : public Store {
 public:
  RocksStore(StoreOptions options, std::unique_ptr<rocksdb::DB> db,
             std::vector<rocksdb::ColumnFamilyHandle*> handles,
             std::array<rocksdb::ColumnFamilyHandle*, kCfCount> cfs)
      : options_(std::move(options)),
        db_(std::move(db)),
        handles_(std::move(handles)),
        cfs_(cfs),
        writer_([this] { WriterLoop(); }) {}

  ~RocksStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    queued_.notify_one();
    writer_.join();  // the writer drains the queue before it returns
    for (rocksdb::ColumnFamilyHandle* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close().PermitUncheckedError();
  }

  void WriteAsync(Batch batch, Done done) override {
    const size_t bytes = ApproximateBytes(batch);
    bool accepted = false;
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(Pending{std::move(batch), std::move(done), bytes,
                                 std::string(core::CurrentRequestId())});
        accepted = true;
      }
    }
    if (accepted) {
      queued_.notify_one();
    } else if (done) {
      done(core::Status(core::Code::kUnavailable, "store is shutting down"));
    }
  }

  core::Status Write(Batch batch) override {
    if (std::this_thread::get_id() == writer_.get_id()) {
      return core::Internal("Store::Write called from a write callback would deadlock");
    }
    std::promise<core::Status> acked;
    std::future<core::Status> result = acked.get_future();
    WriteAsync(std::move(batch), [&acked](core::Status s) { acked.set_value(std::move(s)); });
    return result.get();
  }

  core::Result<std::optional<std::string>> Get(Cf cf, std::string_view key) override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Handle(cf), ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "storage get");
    return std::optional<std::string>(std::move(value));
  }

  core::Status Scan(Cf cf, std::string_view prefix,
                    const std::function<bool(std::string_view, std::string_view)>& fn) override {
    return ScanFrom(cf, prefix, prefix, fn);
  }

  core::Status ScanFrom(
      Cf cf, std::string_view prefix, std::string_view start,
      const std::function<bool(std::string_view, std::string_view)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), Handle(cf)));
    for (it->Seek(ToSlice(std::max(prefix, start))); it->Valid(); it->Next()) {
      std::string_view key = it->key().ToStringView();
      if (!key.starts_with(prefix)) break;
      if (!fn(key, it->value().ToStringView())) break;
    }
    return FromRocks(it->status(), "storage scan");
  }

  StoreStats stats() const override {
    StoreStats s;
    s.batches_written = batches_written_.load(std::memory_order_relaxed);
    s.syncs = syncs_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  struct Pending {
    Batch batch;
    Done done;
    size_t bytes;
    std::string request_id;  // current at WriteAsync: the callback runs under it again
  };

  rocksdb::ColumnFamilyHandle* Handle(Cf cf) const { return cfs_[static_cast<size_t>(cf)]; }

  // Runs on writer_ until stopping_ is set and the queue is empty.
  void WriterLoop() {
    std::vector<Pending> group;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        size_t bytes = 0;
        do {  // at least one batch, even one over the cap
          bytes += queue_.front().bytes;
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        } while (!queue_.empty() && bytes + queue_.front().bytes <= options_.max_group_bytes);
      }
      core::Status status = Commit(group);
      if (status.ok()) {
        syncs_.fetch_add(1, std::memory_order_relaxed);
        batches_written_.fetch_add(group.size(), std::memory_order_relaxed);
      }
      for (Pending& p : group) {
        core::ScopedRequestId scope(std::move(p.request_id));
        if (p.done) p.done(status);
      }
      group.clear();
    }
  }

  core::Status Append(const Batch& batch, rocksdb::WriteBatch& wb) {
    for (const Batch::Op& op : batch.ops()) {
      rocksdb::Status s =
          op.value ? wb.Put(Handle(op.cf), op.key, *op.value) : wb.Delete(Handle(op.cf), op.key);
      if (!s.ok()) return FromRocks(s, "storage batch");
    }
    return core::Status::Ok();
  }

  core::Status Commit(const std::vector<Pending>& group) {
    rocksdb::WriteBatch wb;
    for (const Pending& p : group) EDWC_RETURN_IF_ERROR(Append(p.batch, wb));
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    return FromRocks(db_->Write(wo, &wb), "storage write");
  }

  const StoreOptions options_;
  const std::unique_ptr<rocksdb::DB> db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;       // all open CFs, owned
  const std::array<rocksdb::ColumnFamilyHandle*, kCfCount> cfs_;  // ours, indexed by Cf

  std::mutex mu_;
  std::condition_variable queued_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;      // GUARDED_BY(mu_)

  std::atomic<uint64_t> batches_written_{0};
  std::atomic<uint64_t> syncs_{0};

  std::thread writer_;  // last: starts after everything it uses is constructed
};

}  // namespace

core::Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return core::IoError("storage: cannot create directory '" + options.path +
                         "': " + ec.message());
  }

  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;

  // Our families plus any already on disk (a newer version may have added some);
  // RocksDB refuses to open a database without naming all of them.
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  for (int i = 0; i < kCfCount; ++i) names.emplace_back(CfName(static_cast<Cf>(i)));
  std::vector<std::string> existing;
  // Fails for a new database; DB::Open below reports any real problem.
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok()) {
    for (const std::string& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  // Point reads of absent keys (idempotency checks before a first write) skip the files
  // that cannot hold them.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options(db_options);
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) descriptors.emplace_back(name, cf_options);

  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "storage: cannot open '" + options.path + "'");
  std::unique_ptr<rocksdb::DB> db(raw);

  // handles[i] belongs to names[i]; ours are 1..kCfCount, after "default".
  std::array<rocksdb::ColumnFamilyHandle*, kCfCount> cfs{};
  for (int i = 0; i < kCfCount; ++i) cfs[i] = handles[i + 1];
  return std::unique_ptr<Store>(
      std::make_unique<RocksStore>(options, std::move(db), std::move(handles), cfs));
}

core::Result<uint64_t> BumpEpoch(Store& store) {
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> current, store.Get(Cf::kMeta, "epoch"));
  uint64_t epoch = 0;
  if (current) {
    const char* end = current->data() + current->size();
    auto [ptr, err] = std::from_chars(current->data(), end, epoch);
    if (current->empty() || err != std::errc() || ptr != end ||
        epoch == std::numeric_limits<uint64_t>::max()) {
      return core::Status(core::Code::kCorruption,
                          "meta epoch is not a decimal number below 2^64-1: '" + *current + "'");
    }
  }
  Batch batch;
  batch.Put(Cf::kMeta, "epoch", std::to_string(epoch + 1));
  EDWC_RETURN_IF_ERROR(store.Write(std::move(batch)));
  return epoch + 1;
}

}  // namespace edwc::storage
