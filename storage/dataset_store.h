// DatasetStore: a center's datasets as plain files on disk, each beside its manifest
// (core/dataset.h), with streamed uploads and resumable, chunk-verified receives.
//
// Layout under the root directory:
//   <root>/<name>/data            the bytes
//   <root>/<name>/manifest.json   core::ToJson(DatasetManifest)
//   <root>/.incoming/...          uploads, finishes and deletes in progress; emptied at Open,
//                                 so an upload that was not committed is lost by design
//   <root>/.partial/<transfer>    received transfers in progress; kept across restarts
// A dataset appears at once and whole: its directory is built under .incoming, synced,
// and renamed into place; delete renames it away first.
//
// All calls do blocking file I/O (fdatasync, whole-file reads and hashing): callers run
// them on a blocking pool, never on an I/O thread.
//
// Thread-safety: DatasetStore is thread-safe. DatasetReader is thread-safe (pread only).
// PartialDataset: WriteChunk may be called from several threads at once for different
// chunks; everything else on it must not run concurrently with any other call on it.
// DatasetUpload is thread-compatible (one writer). The objects returned do not refer to
// the store and may outlive it; one DatasetStore per root at a time. Every error names
// the dataset (or transfer) and the file, with the errno text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dataset.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::storage {

// SHA-256 of `bytes` as 64 lowercase hex digits.
std::string Sha256Hex(std::string_view bytes);

// A dataset being uploaded: bytes arrive in order through Append and are written and
// hashed as they come (memory stays bounded whatever the size). Destroying an upload that
// was not committed aborts it.
class DatasetUpload {
 public:
  virtual ~DatasetUpload() = default;

  // Appends the next bytes. After an error the upload is failed; only Abort remains.
  virtual core::Status Append(std::string_view bytes) = 0;

  // Makes the dataset durable and visible under its name. If one of that name exists with
  // the same size and sha256, returns the existing manifest (an idempotent retry);
  // with other content, kConflict "dataset <name> exists with other content". Either
  // way the upload is over.
  virtual core::Result<core::DatasetManifest> Commit() = 0;

  // Drops what was written. Idempotent.
  virtual void Abort() = 0;

  virtual int64_t bytes_written() const = 0;
};

// A stored dataset opened for reading. Reads do not verify hashes (see ChunkMatches).
class DatasetReader {
 public:
  virtual ~DatasetReader() = default;
  virtual const core::DatasetManifest& manifest() const = 0;

  // Reads exactly `length` bytes at `offset` into out[0..length).
  // REQUIRES: 0 <= offset, offset + length <= manifest().size (kInvalidArgument otherwise).
  virtual core::Status ReadAt(int64_t offset, int64_t length, char* out) const = 0;

  // Replaces *out with chunk i. REQUIRES: 0 <= i < chunk_count() (kInvalidArgument).
  virtual core::Status ReadChunk(int64_t i, std::string* out) const = 0;
};

// A dataset being received chunk by chunk, in any order, possibly across restarts. The
// caller records which chunks are done (after WriteChunk returns OK they are durable)
// and passes that record to OpenPartial to resume. A chunk done before a restart is
// checked against its hash when it is next read back (at OpenPartial for the in-order
// prefix, later for the rest); if its bytes on disk are bad it becomes not done again.
// So the caller finishes when done() == chunk_count(), receiving every !chunk_done(i).
class PartialDataset {
 public:
  virtual ~PartialDataset() = default;  // closes; the partial file stays for a resume

  virtual const core::DatasetManifest& manifest() const = 0;

  // Writes chunk i and verifies it (length and SHA-256 against the manifest), and, with
  // `sync`, syncs it. A bad chunk is kCorruption naming its index and offset and is never
  // counted as done (its bytes may be in its range until a good copy replaces them;
  // nothing reads a chunk that is not done). Writing a chunk already done is OK and
  // changes nothing.
  // Without `sync` the chunk is durable only after a later Sync() returns: record it as
  // done only then (one Sync covers every chunk written before it; callers group them).
  // Thread-safe for different chunks.
  virtual core::Status WriteChunk(int64_t i, std::string_view bytes, bool sync = true) = 0;

  // Makes every chunk written so far durable (fdatasync). Thread-safe.
  virtual core::Status Sync() = 0;

  // After a restart: every chunk not counted as done whose range holds data (written
  // before the crash but not yet recorded) is read back and counted as done when it
  // matches its SHA-256, so that it is not fetched again. Holes are skipped without
  // reading. Returns how many chunks it recovered. Call before sharing the object.
  virtual core::Result<int64_t> RecoverWritten() = 0;

  // Verifies the whole-file SHA-256 (kCorruption on mismatch; unless opened without
  // check_whole), and stores the dataset
  // under `name` with center set to the store's center, like DatasetUpload::Commit (same
  // conflict rules). On success the partial file is gone. On failure it stays.
  // REQUIRES: all chunks done (kFailedPrecondition otherwise).
  virtual core::Result<core::DatasetManifest> Finish(std::string_view name) = 0;

  // Replaces *out with chunk i as written (a relay serves staged chunks this way).
  // kFailedPrecondition while chunk i is not done; kInvalidArgument out of range.
  virtual core::Status ReadChunk(int64_t i, std::string* out) const = 0;

  // Deletes the partial file. After it only destruction remains.
  virtual core::Status Discard() = 0;

  virtual bool chunk_done(int64_t i) const = 0;
  virtual int64_t done() const = 0;        // chunks done
  virtual int64_t bytes_done() const = 0;  // bytes in chunks done
};

class DatasetStore {
 public:
  // Creates `root` if missing, empties <root>/.incoming, keeps <root>/.partial. `center`
  // is written into the manifests of received datasets. `clock` stamps created_at of
  // uploads; nullptr is the system clock; it must outlive the store and what it returns.
  static core::Result<std::unique_ptr<DatasetStore>> Open(std::string root, std::string center,
                                                          const core::Clock* clock = nullptr);

  // Starts an upload. Tags are sorted and deduplicated here. kInvalidArgument for a bad
  // name, chunk size or tag (the check is at the start, not after the bytes).
  core::Result<std::unique_ptr<DatasetUpload>> BeginUpload(std::string_view name, std::string zone,
                                                           std::vector<std::string> tags,
                                                           int64_t chunk_size);

  // kNotFound when absent; kCorruption when its manifest is unreadable.
  core::Result<core::DatasetManifest> Get(std::string_view name) const;
  // Every dataset, sorted by name.
  core::Result<std::vector<core::DatasetManifest>> List() const;
  // Durable; kNotFound when absent. Readers already open keep reading the old bytes.
  core::Status Delete(std::string_view name);
  core::Result<std::unique_ptr<DatasetReader>> OpenRead(std::string_view name) const;

  // Opens (creating and sizing if missing) <root>/.partial/<transfer_id> for a receive of
  // `manifest`. `done_chunks` (size chunk_count()) is the caller's record of chunks already
  // written; the done prefix is re-read and rehashed, and a done chunk whose bytes on
  // disk fail their hash is counted as not done. When the file did not exist, nothing
  // is done. transfer_id follows the rules of core::ValidDatasetName.
  //
  // With `check_whole` false, the whole file is not hashed again: every chunk is verified
  // against its SHA-256 as it arrives, so the file is the source's byte for byte, and its
  // manifest (whole SHA-256 included) is the source's. This halves the hashing of a
  // receive and spares reading back chunks that arrive out of order.
  core::Result<std::unique_ptr<PartialDataset>> OpenPartial(std::string_view transfer_id,
                                                            const core::DatasetManifest& manifest,
                                                            const std::vector<bool>& done_chunks,
                                                            bool check_whole = true);

  // True when `bytes` is chunk i of `m` (length and SHA-256). False for i out of range.
  static bool ChunkMatches(const core::DatasetManifest& m, int64_t i, std::string_view bytes);

  const std::string& root() const { return root_; }
  const std::string& center() const { return center_; }

 private:
  DatasetStore(std::string root, std::string center, const core::Clock* clock);

  std::string root_;
  std::string center_;
  const core::Clock* clock_;
};

using DatasetStorePtr = std::unique_ptr<DatasetStore>;

}  // namespace edwc::storage
