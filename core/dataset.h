// Datasets: named files at a center, described by a manifest that lets any receiver
// verify every chunk on its own (DESIGN.md section 5, "Transfers").
//
// A dataset's bytes are cut into chunks of `chunk_size` (the last one may be shorter);
// `chunk_sha256[i]` is the SHA-256 of chunk i and `sha256` that of the whole file, both
// lowercase hex. An empty dataset has no chunks and the SHA-256 of the empty string.
// Plain values; thread-compatible.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace edwc::core {

inline constexpr int64_t kDefaultChunkSize = 4 << 20;  // 4 MiB
inline constexpr int64_t kMinChunkSize = 64 << 10;     // 64 KiB
inline constexpr int64_t kMaxChunkSize = 64 << 20;     // 64 MiB

struct DatasetManifest {
  std::string name;                        // ValidDatasetName
  int64_t size = 0;                        // bytes
  int64_t chunk_size = kDefaultChunkSize;  // kMinChunkSize .. kMaxChunkSize
  std::vector<std::string> chunk_sha256;   // one per chunk, hex
  std::string sha256;                      // whole file, hex
  std::string zone;                        // residency zone the data belongs to
  std::vector<std::string> tags;           // classification tags, sorted, unique
  std::string center;                      // the center that holds this copy
  Time created_at;

  int64_t chunk_count() const { return size == 0 ? 0 : (size + chunk_size - 1) / chunk_size; }
  // Byte length of chunk i. REQUIRES: 0 <= i < chunk_count().
  int64_t chunk_length(int64_t i) const {
    return i + 1 < chunk_count() ? chunk_size : size - i * chunk_size;
  }
  bool operator==(const DatasetManifest&) const = default;
};

// Largest dataset accepted: 1 PiB, far above any real one, and low enough that offsets
// and chunk counts never overflow int64.
inline constexpr int64_t kMaxDatasetSize = int64_t{1} << 50;

// A residency rule (config `datasets.residency`; checked by federation::CheckResidency).
// It applies to a dataset when (zones is empty or the dataset's zone is in zones) and
// (tags is empty or the dataset has any of tags). A dataset that a rule applies to may
// only be copied (or staged at a relay) in allow_zones. A dataset with an empty zone is
// constrained only by rules that name no zones.
struct ResidencyRule {
  std::string name;
  std::vector<std::string> zones;
  std::vector<std::string> tags;
  std::vector<std::string> allow_zones;
  bool operator==(const ResidencyRule&) const = default;
};

// 1-128 chars of [A-Za-z0-9._-], not starting with '.' or '-': safe as a file name and in
// a URL path without escaping.
bool ValidDatasetName(std::string_view name);

// True for 64 lowercase hex digits (a SHA-256 as manifests write it).
bool ValidSha256Hex(std::string_view hex);

// Checks every invariant stated on DatasetManifest: a valid name, 0 <= size <=
// kMaxDatasetSize, chunk_size in range, one lowercase-hex hash per chunk, a lowercase-hex
// whole hash, tags non-empty, sorted and unique. kInvalidArgument naming the field
// ("chunk_sha256[3]", "tags[1]").
Status ValidateDatasetManifest(const DatasetManifest& m);

// JSON codec. The object has every field of DatasetManifest under the same name;
// created_at is an RFC 3339 string. Decoding is strict: unknown fields are refused, and
// the result passes ValidateDatasetManifest; each error names its field. zone, tags and
// center may be absent (empty).
boost::json::object ToJson(const DatasetManifest& m);
Result<DatasetManifest> DatasetManifestFromJson(const boost::json::object& o);

}  // namespace edwc::core
