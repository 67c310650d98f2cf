// Files, not RocksDB, hold dataset bytes: datasets run to terabytes and are read and
// written in chunks with pread/pwrite, which a key-value store would only copy around.
// Durability comes from fdatasync on the data, fsync on every directory whose entries
// change, and rename of a fully synced directory as the single step that publishes.
#include "storage/dataset_store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cassert>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "core/fd.h"
#include "core/json.h"

namespace edwc::storage {

namespace fs = std::filesystem;
using core::DatasetManifest;
using core::Result;
using core::Status;

namespace {

constexpr char kIncoming[] = ".incoming";
constexpr char kPartial[] = ".partial";

// The digest is fetched once: EVP_MD_fetch does a provider lookup that costs more than
// hashing a small chunk.
const EVP_MD* Sha256Md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  assert(md != nullptr);
  return md;
}

// Incremental SHA-256. Thread-compatible.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { Reset(); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes) {
    const int ok = EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
    assert(ok == 1);
    (void)ok;
  }
  // The digest of everything fed since the last reset, as hex; then resets.
  std::string FinishHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    const int ok = EVP_DigestFinal_ex(ctx_, digest, &length);
    assert(ok == 1 && length == 32);
    (void)ok;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * length, '0');
    for (unsigned int i = 0; i < length; ++i) {
      out[2 * i] = kHex[digest[i] >> 4];
      out[2 * i + 1] = kHex[digest[i] & 15];
    }
    Reset();
    return out;
  }

 private:
  void Reset() {
    const int ok = EVP_DigestInit_ex(ctx_, Sha256Md(), nullptr);
    assert(ok == 1);
    (void)ok;
  }
  EVP_MD_CTX* ctx_;
};

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// "<context>: <op> <path>: <errno text>"
Status ErrnoStatus(std::string_view context, std::string_view op, const std::string& path,
                   int err) {
  return core::IoError(std::string(context) + ": " + std::string(op) + " " + path + ": " +
                       ErrnoText(err));
}

std::string DatasetContext(std::string_view name) { return "dataset " + std::string(name); }
std::string TransferContext(std::string_view id) { return "transfer " + std::string(id); }

using core::Fd;

Status WriteAll(int fd, std::string_view bytes, std::string_view context, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(context, "write", path, errno);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status PwriteAll(int fd, std::string_view bytes, int64_t offset, std::string_view context,
                 const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd, bytes.data(), bytes.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(context, "pwrite", path, errno);
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return Status::Ok();
}

// Reads exactly `length` bytes; end of file first is kCorruption (the file is shorter
// than its manifest says).
Status PreadAll(int fd, char* out, int64_t length, int64_t offset, std::string_view context,
                const std::string& path) {
  while (length > 0) {
    const ssize_t n = ::pread(fd, out, static_cast<size_t>(length), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(context, "pread", path, errno);
    if (n == 0) {
      return Status(core::Code::kCorruption, std::string(context) + ": " + path + " ends at " +
                                                 std::to_string(offset) +
                                                 ", before the size in its manifest");
    }
    out += n;
    offset += n;
    length -= n;
  }
  return Status::Ok();
}

Status SyncFd(int fd, bool data_only, std::string_view context, const std::string& path) {
  const int rc = data_only ? ::fdatasync(fd) : ::fsync(fd);
  if (rc != 0) return ErrnoStatus(context, data_only ? "fdatasync" : "fsync", path, errno);
  return Status::Ok();
}

// Makes the entries of directory `path` durable.
Status SyncDir(const std::string& path, std::string_view context) {
  Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(context, "open directory", path, errno);
  return SyncFd(dir.get(), false, context, path);
}

Result<std::string> ReadWholeFile(const std::string& path, std::string_view context) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    Status st = ErrnoStatus(context, "open", path, err);
    if (err == ENOENT) return Status(core::Code::kNotFound, st.message());
    return st;
  }
  std::string out;
  char buf[64 << 10];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(context, "read", path, errno);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Status WriteFileDurably(const std::string& path, std::string_view content,
                        std::string_view context) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus(context, "create", path, errno);
  EDWC_RETURN_IF_ERROR(WriteAll(fd.get(), content, context, path));
  return SyncFd(fd.get(), false, context, path);
}

// A fresh, empty directory <parent>/<prefix>XXXXXX.
Result<std::string> MakeTempDir(const std::string& parent, std::string_view prefix,
                                std::string_view context) {
  std::string path = parent + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) return ErrnoStatus(context, "mkdtemp", path, errno);
  return path;
}

// Removes a tree that is no longer part of any dataset. A failure leaves garbage under
// .incoming, which the next Open removes, so it is not an error for the caller.
void RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

Result<DatasetManifest> ReadManifest(const std::string& root, std::string_view name) {
  const std::string context = DatasetContext(name);
  const std::string path = root + "/" + std::string(name) + "/manifest.json";
  Result<std::string> text = ReadWholeFile(path, context);
  if (!text.ok()) {
    if (text.status().code() == core::Code::kNotFound) {
      return core::NotFound(context + " not found (no " + path + ")", "name");
    }
    return text.status();
  }
  Result<boost::json::object> object = core::ParseJsonObject(*text);
  Result<DatasetManifest> m = object.ok() ? core::DatasetManifestFromJson(*object)
                                          : Result<DatasetManifest>(object.status());
  if (!m.ok()) {
    std::string what = m.status().field().empty() ? "" : m.status().field() + ": ";
    return Status(core::Code::kCorruption, context + ": " + path + " is not a valid manifest: " +
                                               what + m.status().message());
  }
  if (m->name != name) {
    return Status(core::Code::kCorruption, context + ": " + path + " names dataset " + m->name);
  }
  return m;
}

// Publishes the dataset built in `tmp_dir` (which holds `data`) as <root>/<m.name>:
// writes its manifest, syncs, renames into place, syncs both parents. An existing
// dataset of the name with the same size and sha256 is returned instead (and tmp_dir
// removed); with other content it is kConflict. tmp_dir is gone afterwards either way.
Result<DatasetManifest> Install(const std::string& root, const std::string& tmp_dir,
                                const DatasetManifest& m) {
  const std::string context = DatasetContext(m.name);
  const std::string target = root + "/" + m.name;
  Status st = WriteFileDurably(tmp_dir + "/manifest.json",
                               boost::json::serialize(core::ToJson(m)) + "\n", context);
  if (st.ok()) st = SyncDir(tmp_dir, context);
  if (!st.ok()) {
    RemoveTree(tmp_dir);
    return st;
  }
  if (::rename(tmp_dir.c_str(), target.c_str()) != 0) {
    const int err = errno;
    RemoveTree(tmp_dir);
    if (err != EEXIST && err != ENOTEMPTY) {
      return ErrnoStatus(context, "rename " + tmp_dir + " to", target, err);
    }
    Result<DatasetManifest> existing = ReadManifest(root, m.name);
    if (!existing.ok()) return existing.status();
    if (existing->size == m.size && existing->sha256 == m.sha256) return existing;
    return Status(core::Code::kConflict, context + " exists with other content", "name");
  }
  EDWC_RETURN_IF_ERROR(SyncDir(root + "/" + kIncoming, context));
  EDWC_RETURN_IF_ERROR(SyncDir(root, context));
  return m;
}

// ---------------------------------------------------------------------------------------

class UploadImpl final : public DatasetUpload {
 public:
  UploadImpl(std::string root, std::string dir, Fd fd, DatasetManifest m, const core::Clock* clock)
      : root_(std::move(root)),
        dir_(std::move(dir)),
        data_path_(dir_ + "/data"),
        fd_(std::move(fd)),
        m_(std::move(m)),
        clock_(clock),
        context_(DatasetContext(m_.name)) {}

  ~UploadImpl() override { Abort(); }

  Status Append(std::string_view bytes) override {
    if (state_ != State::kOpen) return NotOpen();
    if (static_cast<int64_t>(bytes.size()) > core::kMaxDatasetSize - m_.size) {
      return Fail(core::InvalidArgument(context_ + ": larger than the maximum of " +
                                        std::to_string(core::kMaxDatasetSize) + " bytes"));
    }
    Status st = WriteAll(fd_.get(), bytes, context_, data_path_);
    if (!st.ok()) return Fail(std::move(st));
    whole_.Update(bytes);
    while (!bytes.empty()) {
      const size_t take =
          std::min(bytes.size(), static_cast<size_t>(m_.chunk_size - chunk_filled_));
      chunk_.Update(bytes.substr(0, take));
      chunk_filled_ += static_cast<int64_t>(take);
      bytes.remove_prefix(take);
      if (chunk_filled_ == m_.chunk_size) EndChunk();
    }
    return Status::Ok();
  }

  Result<DatasetManifest> Commit() override {
    if (state_ != State::kOpen) return NotOpen();
    if (chunk_filled_ > 0) EndChunk();
    m_.sha256 = whole_.FinishHex();
    m_.created_at = clock_->Now();
    Status st = SyncFd(fd_.get(), true, context_, data_path_);
    fd_.Reset();
    if (!st.ok()) return Fail(std::move(st));
    state_ = State::kDone;  // Install owns dir_ from here on, success or not
    return Install(root_, dir_, m_);
  }

  void Abort() override {
    if (state_ == State::kDone) return;
    fd_.Reset();
    RemoveTree(dir_);
    state_ = State::kDone;
  }

  int64_t bytes_written() const override { return m_.size; }

 private:
  enum class State { kOpen, kFailed, kDone };

  void EndChunk() {
    m_.chunk_sha256.push_back(chunk_.FinishHex());
    m_.size += chunk_filled_;
    chunk_filled_ = 0;
  }
  Status Fail(Status st) {
    state_ = State::kFailed;
    return st;
  }
  Status NotOpen() const {
    return Status(core::Code::kFailedPrecondition,
                  context_ + ": upload is " + (state_ == State::kFailed ? "failed" : "over"));
  }

  const std::string root_;
  const std::string dir_;  // <root>/.incoming/upload-XXXXXX
  const std::string data_path_;
  Fd fd_;
  DatasetManifest m_;  // size counts whole chunks only until Commit
  const core::Clock* clock_;
  const std::string context_;
  Sha256 whole_;
  Sha256 chunk_;
  int64_t chunk_filled_ = 0;
  State state_ = State::kOpen;
};

// ---------------------------------------------------------------------------------------

class ReaderImpl final : public DatasetReader {
 public:
  ReaderImpl(DatasetManifest m, std::string path, Fd fd)
      : m_(std::move(m)), path_(std::move(path)), fd_(std::move(fd)) {}

  const DatasetManifest& manifest() const override { return m_; }

  Status ReadAt(int64_t offset, int64_t length, char* out) const override {
    if (offset < 0 || length < 0 || offset > m_.size || length > m_.size - offset) {
      return core::InvalidArgument(DatasetContext(m_.name) + ": range " + std::to_string(offset) +
                                   "+" + std::to_string(length) + " is outside its " +
                                   std::to_string(m_.size) + " bytes");
    }
    return PreadAll(fd_.get(), out, length, offset, DatasetContext(m_.name), path_);
  }

  Status ReadChunk(int64_t i, std::string* out) const override {
    if (i < 0 || i >= m_.chunk_count()) {
      return core::InvalidArgument(DatasetContext(m_.name) + ": no chunk " + std::to_string(i) +
                                   " in " + std::to_string(m_.chunk_count()));
    }
    out->resize(static_cast<size_t>(m_.chunk_length(i)));
    return ReadAt(i * m_.chunk_size, m_.chunk_length(i), out->data());
  }

 private:
  const DatasetManifest m_;
  const std::string path_;
  const Fd fd_;
};

// ---------------------------------------------------------------------------------------

// Hashing the whole file in order while chunks arrive out of order: hashed_through_ is
// the number of leading chunks fed to whole_. At most one thread at a time (the one that
// set hashing_) feeds whole_: the writer of the chunk at the cursor, from memory, and
// then on through chunks already on disk, read back with pread. Other writers only mark
// their chunk done; the hashing thread sees it when it gets there.
class PartialImpl final : public PartialDataset {
 public:
  PartialImpl(std::string root, std::string center, std::string transfer_id, std::string path,
              Fd fd, DatasetManifest m, std::vector<bool> done)
      : root_(std::move(root)),
        center_(std::move(center)),
        path_(std::move(path)),
        context_(TransferContext(transfer_id)),
        fd_(std::move(fd)),
        m_(std::move(m)),
        done_(std::move(done)),
        verified_(done_.size(), false) {
    for (size_t k = 0; k < done_.size(); ++k) {
      if (done_[k]) CountDone(static_cast<int64_t>(k), +1);
    }
  }

  // Rehashes the done prefix from disk (resume). Called once, before the object is shared.
  // Without `check_whole` the done prefix is still re-verified, chunk by chunk.
  Status Resume(bool check_whole) {
    check_whole_ = check_whole;
    std::unique_lock lock(mu_);
    hashing_ = true;
    AdvanceHash(lock);
    return hash_error_;
  }

  const DatasetManifest& manifest() const override { return m_; }

  Status Sync() override { return SyncFd(fd_.get(), true, context_, path_); }

  Result<int64_t> RecoverWritten() override {
    int64_t recovered = 0;
    std::string buf;
    for (int64_t i = 0; i < m_.chunk_count(); ++i) {
      {
        std::lock_guard lock(mu_);
        if (done_[static_cast<size_t>(i)]) continue;
      }
      const int64_t offset = i * m_.chunk_size;
      const off_t data = ::lseek(fd_.get(), offset, SEEK_DATA);
      if (data < 0 && errno == ENXIO) break;  // nothing but holes from here on
      if (data < 0) return ErrnoStatus(context_, "lseek", path_, errno);
      if (data >= offset + m_.chunk_length(i)) continue;  // a hole: never written
      buf.resize(static_cast<size_t>(m_.chunk_length(i)));
      EDWC_RETURN_IF_ERROR(
          PreadAll(fd_.get(), buf.data(), m_.chunk_length(i), offset, context_, path_));
      if (Sha256Hex(buf) != m_.chunk_sha256[static_cast<size_t>(i)]) continue;
      std::lock_guard lock(mu_);
      done_[static_cast<size_t>(i)] = true;
      verified_[static_cast<size_t>(i)] = true;
      CountDone(i, +1);
      ++recovered;
    }
    return recovered;
  }

  Status WriteChunk(int64_t i, std::string_view bytes, bool sync) override {
    if (i < 0 || i >= m_.chunk_count()) {
      return core::InvalidArgument(context_ + ": no chunk " + std::to_string(i) + " in " +
                                   std::to_string(m_.chunk_count()));
    }
    const int64_t offset = i * m_.chunk_size;
    const std::string where = context_ + ": chunk " + std::to_string(i) + " at offset " +
                              std::to_string(offset) + " of " + path_;
    if (static_cast<int64_t>(bytes.size()) != m_.chunk_length(i)) {
      return Status(core::Code::kCorruption, where + " has " + std::to_string(bytes.size()) +
                                                 " bytes, the manifest says " +
                                                 std::to_string(m_.chunk_length(i)));
    }
    bool already = false;
    {
      std::lock_guard lock(mu_);
      if (closed_) return Closed();
      already = done_[static_cast<size_t>(i)];
    }
    if (already) {  // a duplicate: checked, never written over a good copy
      if (Sha256Hex(bytes) != m_.chunk_sha256[static_cast<size_t>(i)]) {
        return Status(core::Code::kCorruption, where + " fails its SHA-256; not written");
      }
      return Status::Ok();
    }
    // Outside the lock: other chunks are written and synced in parallel. Hashed and
    // written slice by slice, so that each slice is still in the cache when it is written;
    // a chunk that fails its hash is then in the file but never counted (it is fetched
    // and written again, and nothing reads a chunk that is not done).
    constexpr size_t kSlice = 256 << 10;
    Sha256 hash;
    for (size_t at = 0; at < bytes.size(); at += kSlice) {
      const std::string_view slice = bytes.substr(at, kSlice);
      hash.Update(slice);
      EDWC_RETURN_IF_ERROR(
          PwriteAll(fd_.get(), slice, offset + static_cast<int64_t>(at), context_, path_));
    }
    if (hash.FinishHex() != m_.chunk_sha256[static_cast<size_t>(i)]) {
      return Status(core::Code::kCorruption, where + " fails its SHA-256; not counted");
    }
    if (sync) EDWC_RETURN_IF_ERROR(SyncFd(fd_.get(), true, context_, path_));

    std::unique_lock lock(mu_);
    const size_t k = static_cast<size_t>(i);
    if (!done_[k]) {  // a concurrent write of the same bytes may have got here first
      done_[k] = true;
      CountDone(i, +1);
    }
    verified_[k] = true;
    if (!check_whole_ || hashing_ || hashed_through_ != i) return Status::Ok();
    hashing_ = true;
    lock.unlock();
    whole_.Update(bytes);
    lock.lock();
    hashed_through_ = i + 1;
    AdvanceHash(lock);
    return Status::Ok();
  }

  Status ReadChunk(int64_t i, std::string* out) const override {
    if (i < 0 || i >= m_.chunk_count()) {
      return core::InvalidArgument(context_ + ": no chunk " + std::to_string(i) + " in " +
                                   std::to_string(m_.chunk_count()));
    }
    {
      std::lock_guard lock(mu_);
      if (closed_) return Closed();
      if (!done_[static_cast<size_t>(i)]) {
        return Status(core::Code::kFailedPrecondition,
                      context_ + ": chunk " + std::to_string(i) + " is not here yet");
      }
    }
    out->resize(static_cast<size_t>(m_.chunk_length(i)));
    return PreadAll(fd_.get(), out->data(), m_.chunk_length(i), i * m_.chunk_size, context_, path_);
  }

  Result<DatasetManifest> Finish(std::string_view name) override {
    if (!core::ValidDatasetName(name)) {
      return core::InvalidArgument(context_ + ": invalid dataset name", "name");
    }
    const std::string context = DatasetContext(name) + " (" + context_ + ")";
    {
      std::lock_guard lock(mu_);
      if (closed_) return Closed();
      EDWC_RETURN_IF_ERROR(hash_error_);
      if (done_count_ != m_.chunk_count()) {
        return Status(core::Code::kFailedPrecondition,
                      context + ": " + std::to_string(m_.chunk_count() - done_count_) +
                          " chunks of " + std::to_string(m_.chunk_count()) + " not received");
      }
      assert(!check_whole_ || (hashed_through_ == m_.chunk_count() && !hashing_));
    }
    if (check_whole_ && !whole_sha256_) whole_sha256_ = whole_.FinishHex();
    if (check_whole_ && *whole_sha256_ != m_.sha256) {
      return Status(core::Code::kCorruption, context + ": SHA-256 of " + path_ + " is " +
                                                 *whole_sha256_ + ", the manifest says " +
                                                 m_.sha256);
    }
    EDWC_RETURN_IF_ERROR(SyncFd(fd_.get(), false, context, path_));

    DatasetManifest out = m_;
    out.name = std::string(name);
    out.center = center_;
    EDWC_ASSIGN_OR_RETURN(std::string tmp,
                          MakeTempDir(root_ + "/" + kIncoming, "finish-", context));
    // A link, not a rename: until the dataset is in place the partial file stays, so a
    // crash here still resumes (and the retried Finish finds the dataset, same content).
    const std::string data = tmp + "/data";
    if (::link(path_.c_str(), data.c_str()) != 0) {
      Status st = ErrnoStatus(context, "link " + path_ + " to", data, errno);
      RemoveTree(tmp);
      return st;
    }
    EDWC_ASSIGN_OR_RETURN(DatasetManifest stored, Install(root_, tmp, out));
    EDWC_RETURN_IF_ERROR(RemovePartial(context));
    return stored;
  }

  Status Discard() override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return Status::Ok();
    }
    return RemovePartial(context_);
  }

  bool chunk_done(int64_t i) const override {
    std::lock_guard lock(mu_);
    return i >= 0 && i < m_.chunk_count() && done_[static_cast<size_t>(i)];
  }
  int64_t done() const override {
    std::lock_guard lock(mu_);
    return done_count_;
  }
  int64_t bytes_done() const override {
    std::lock_guard lock(mu_);
    return bytes_done_;
  }

 private:
  // REQUIRES: mu_ held.
  void CountDone(int64_t i, int sign) {
    done_count_ += sign;
    bytes_done_ += sign * m_.chunk_length(i);
  }

  // Feeds whole_ with the done chunks at the cursor, reading them back from disk.
  // REQUIRES: lock holds mu_ and this thread set hashing_; clears it on return.
  void AdvanceHash(std::unique_lock<std::mutex>& lock) {
    std::string buf;
    while (hashed_through_ < m_.chunk_count() && done_[static_cast<size_t>(hashed_through_)]) {
      const int64_t k = hashed_through_;
      const bool verify = !verified_[static_cast<size_t>(k)];
      lock.unlock();
      buf.resize(static_cast<size_t>(m_.chunk_length(k)));
      Status st =
          PreadAll(fd_.get(), buf.data(), m_.chunk_length(k), k * m_.chunk_size, context_, path_);
      const bool bad =
          st.ok() && verify && Sha256Hex(buf) != m_.chunk_sha256[static_cast<size_t>(k)];
      if (st.ok() && !bad && check_whole_) whole_.Update(buf);
      lock.lock();
      if (!st.ok()) {
        hash_error_ = std::move(st);  // the cursor cannot pass k; Finish reports it
        break;
      }
      if (bad) {  // written before a crash but not durably: it must be received again
        done_[static_cast<size_t>(k)] = false;
        CountDone(k, -1);
        break;
      }
      verified_[static_cast<size_t>(k)] = true;
      hashed_through_ = k + 1;
    }
    hashing_ = false;
  }

  Status RemovePartial(std::string_view context) {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    fd_.Reset();
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(context, "unlink", path_, errno);
    }
    return SyncDir(root_ + "/" + kPartial, context);
  }

  Status Closed() const {
    return Status(core::Code::kFailedPrecondition, context_ + ": already finished or discarded");
  }

  const std::string root_;
  const std::string center_;
  const std::string path_;
  const std::string context_;
  Fd fd_;
  const DatasetManifest m_;

  mutable std::mutex mu_;
  std::vector<bool> done_;      // GUARDED_BY(mu_)
  std::vector<bool> verified_;  // GUARDED_BY(mu_): bytes on disk known to match the hash
  int64_t done_count_ = 0;      // GUARDED_BY(mu_)
  int64_t bytes_done_ = 0;      // GUARDED_BY(mu_)
  bool check_whole_ = true;     // set once, before the object is shared
  int64_t hashed_through_ = 0;  // GUARDED_BY(mu_)
  bool hashing_ = false;        // GUARDED_BY(mu_)
  Status hash_error_;           // GUARDED_BY(mu_)
  Sha256 whole_;                // only the thread that set hashing_ touches it
  bool closed_ = false;         // GUARDED_BY(mu_): finished or discarded
  std::optional<std::string> whole_sha256_;
};

}  // namespace

// ---------------------------------------------------------------------------------------

std::string Sha256Hex(std::string_view bytes) {
  Sha256 h;
  h.Update(bytes);
  return h.FinishHex();
}

DatasetStore::DatasetStore(std::string root, std::string center, const core::Clock* clock)
    : root_(std::move(root)), center_(std::move(center)), clock_(clock) {}

Result<std::unique_ptr<DatasetStore>> DatasetStore::Open(std::string root, std::string center,
                                                         const core::Clock* clock) {
  static const core::SystemClock kSystemClock;
  if (root.empty()) return core::InvalidArgument("dataset store: root must not be empty", "root");
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::string context = "dataset store " + root;
  const std::string incoming = root + "/" + kIncoming;
  for (const std::string& dir : {root, incoming, root + "/" + kPartial}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return core::IoError(context + ": create directory " + dir + ": " + ec.message());
  }
  // An upload that was not committed is lost by design; so are half-done deletes.
  std::error_code ec;
  for (fs::directory_iterator it(incoming, ec), end; !ec && it != end; it.increment(ec)) {
    fs::remove_all(it->path(), ec);
    if (ec) {
      return core::IoError(context + ": remove " + it->path().string() + ": " + ec.message());
    }
  }
  if (ec) return core::IoError(context + ": list " + incoming + ": " + ec.message());
  EDWC_RETURN_IF_ERROR(SyncDir(incoming, context));
  EDWC_RETURN_IF_ERROR(SyncDir(root, context));
  return std::unique_ptr<DatasetStore>(new DatasetStore(std::move(root), std::move(center),
                                                        clock != nullptr ? clock : &kSystemClock));
}

Result<std::unique_ptr<DatasetUpload>> DatasetStore::BeginUpload(std::string_view name,
                                                                 std::string zone,
                                                                 std::vector<std::string> tags,
                                                                 int64_t chunk_size) {
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  DatasetManifest m;
  m.name = std::string(name);
  m.chunk_size = chunk_size;
  m.sha256 = Sha256Hex("");  // a placeholder, so that the check covers the rest
  m.zone = std::move(zone);
  m.tags = std::move(tags);
  m.center = center_;
  EDWC_RETURN_IF_ERROR(core::ValidateDatasetManifest(m));
  m.sha256.clear();
  const std::string context = DatasetContext(name);
  EDWC_ASSIGN_OR_RETURN(std::string dir, MakeTempDir(root_ + "/" + kIncoming, "upload-", context));
  const std::string data = dir + "/data";
  Fd fd(::open(data.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    Status st = ErrnoStatus(context, "create", data, errno);
    RemoveTree(dir);
    return st;
  }
  return std::unique_ptr<DatasetUpload>(
      new UploadImpl(root_, std::move(dir), std::move(fd), std::move(m), clock_));
}

Result<DatasetManifest> DatasetStore::Get(std::string_view name) const {
  if (!core::ValidDatasetName(name)) {
    return core::InvalidArgument(DatasetContext(name) + ": invalid dataset name", "name");
  }
  return ReadManifest(root_, name);
}

Result<std::vector<DatasetManifest>> DatasetStore::List() const {
  std::vector<DatasetManifest> out;
  std::error_code ec;
  for (fs::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // .incoming, .partial
    EDWC_ASSIGN_OR_RETURN(DatasetManifest m, ReadManifest(root_, name));
    out.push_back(std::move(m));
  }
  if (ec) return core::IoError("dataset store: list " + root_ + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const DatasetManifest& a, const DatasetManifest& b) { return a.name < b.name; });
  return out;
}

Status DatasetStore::Delete(std::string_view name) {
  if (!core::ValidDatasetName(name)) {
    return core::InvalidArgument(DatasetContext(name) + ": invalid dataset name", "name");
  }
  const std::string context = DatasetContext(name);
  const std::string path = root_ + "/" + std::string(name);
  // Renamed away in one step (onto an empty directory, which rename replaces), then
  // removed at leisure; a crash in between leaves it under .incoming for Open to remove.
  EDWC_ASSIGN_OR_RETURN(std::string trash,
                        MakeTempDir(root_ + "/" + kIncoming, "delete-", context));
  if (::rename(path.c_str(), trash.c_str()) != 0) {
    const int err = errno;
    RemoveTree(trash);
    if (err == ENOENT) return core::NotFound(context + " not found (no " + path + ")", "name");
    return ErrnoStatus(context, "rename " + path + " to", trash, err);
  }
  EDWC_RETURN_IF_ERROR(SyncDir(root_, context));
  RemoveTree(trash);
  return Status::Ok();
}

Result<std::unique_ptr<DatasetReader>> DatasetStore::OpenRead(std::string_view name) const {
  EDWC_ASSIGN_OR_RETURN(DatasetManifest m, Get(name));
  const std::string context = DatasetContext(name);
  std::string path = root_ + "/" + std::string(name) + "/data";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(context, "open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(context, "fstat", path, errno);
  if (st.st_size != m.size) {
    return Status(core::Code::kCorruption,
                  context + ": " + path + " has " + std::to_string(st.st_size) +
                      " bytes, its manifest says " + std::to_string(m.size));
  }
  return std::unique_ptr<DatasetReader>(
      new ReaderImpl(std::move(m), std::move(path), std::move(fd)));
}

Result<std::unique_ptr<PartialDataset>> DatasetStore::OpenPartial(
    std::string_view transfer_id, const DatasetManifest& manifest,
    const std::vector<bool>& done_chunks, bool check_whole) {
  const std::string context = TransferContext(transfer_id);
  if (!core::ValidDatasetName(transfer_id)) {
    return core::InvalidArgument(context + ": invalid transfer id", "transfer_id");
  }
  if (Status st = core::ValidateDatasetManifest(manifest); !st.ok()) {
    return st.WithContext(context + ": manifest");
  }
  if (static_cast<int64_t>(done_chunks.size()) != manifest.chunk_count()) {
    return core::InvalidArgument(context + ": " + std::to_string(done_chunks.size()) +
                                     " done flags for " + std::to_string(manifest.chunk_count()) +
                                     " chunks",
                                 "done_chunks");
  }
  const std::string path = root_ + "/" + kPartial + "/" + std::string(transfer_id);
  bool created = false;
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) {
    fd = Fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    created = true;
  }
  if (!fd.valid()) return ErrnoStatus(context, created ? "create" : "open", path, errno);
  if (::ftruncate(fd.get(), manifest.size) != 0) {
    return ErrnoStatus(context, "ftruncate", path, errno);
  }
  EDWC_RETURN_IF_ERROR(SyncFd(fd.get(), false, context, path));
  EDWC_RETURN_IF_ERROR(SyncDir(root_ + "/" + kPartial, context));
  // A new file holds none of what the caller thinks is done.
  std::vector<bool> done = created ? std::vector<bool>(done_chunks.size(), false) : done_chunks;
  auto partial = std::make_unique<PartialImpl>(root_, center_, std::string(transfer_id), path,
                                               std::move(fd), manifest, std::move(done));
  EDWC_RETURN_IF_ERROR(partial->Resume(check_whole));
  return std::unique_ptr<PartialDataset>(std::move(partial));
}

bool DatasetStore::ChunkMatches(const DatasetManifest& m, int64_t i, std::string_view bytes) {
  if (i < 0 || i >= m.chunk_count() || static_cast<size_t>(i) >= m.chunk_sha256.size()) {
    return false;
  }
  return static_cast<int64_t>(bytes.size()) == m.chunk_length(i) &&
         Sha256Hex(bytes) == m.chunk_sha256[static_cast<size_t>(i)];
}

}  // namespace edwc::storage
