#include "core/dataset.h"

#include <boost/json.hpp>
#include <string>
#include <utility>

#include "core/json.h"

namespace edwc::core {

namespace json = boost::json;

namespace {

constexpr size_t kMaxTagLength = 128;

std::string Indexed(std::string_view field, size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

json::array ToArray(const std::vector<std::string>& strings) {
  json::array out;
  out.reserve(strings.size());
  for (const std::string& s : strings) out.emplace_back(s);
  return out;
}

// Reads an optional array of strings; each element must be a string.
Result<std::vector<std::string>> GetStringArray(const json::object& o, std::string_view field) {
  std::vector<std::string> out;
  const json::value* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return InvalidArgument("must be an array of strings", std::string(field));
  const json::array& a = v->get_array();
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) return InvalidArgument("must be a string", Indexed(field, i));
    const json::string& s = a[i].get_string();
    out.emplace_back(s.data(), s.size());
  }
  return out;
}

}  // namespace

bool ValidDatasetName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name[0] == '.' || name[0] == '-') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool ValidSha256Hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status ValidateDatasetManifest(const DatasetManifest& m) {
  if (!ValidDatasetName(m.name)) {
    return InvalidArgument(
        "must be 1-128 characters of [A-Za-z0-9._-], not starting with '.' or '-'", "name");
  }
  if (m.size < 0 || m.size > kMaxDatasetSize) {
    return InvalidArgument("must be between 0 and " + std::to_string(kMaxDatasetSize), "size");
  }
  if (m.chunk_size < kMinChunkSize || m.chunk_size > kMaxChunkSize) {
    return InvalidArgument("must be between " + std::to_string(kMinChunkSize) + " and " +
                               std::to_string(kMaxChunkSize),
                           "chunk_size");
  }
  if (static_cast<int64_t>(m.chunk_sha256.size()) != m.chunk_count()) {
    return InvalidArgument("has " + std::to_string(m.chunk_sha256.size()) +
                               " hashes but size and chunk_size make " +
                               std::to_string(m.chunk_count()) + " chunks",
                           "chunk_sha256");
  }
  for (size_t i = 0; i < m.chunk_sha256.size(); ++i) {
    if (!ValidSha256Hex(m.chunk_sha256[i])) {
      return InvalidArgument("must be 64 lowercase hex digits", Indexed("chunk_sha256", i));
    }
  }
  if (!ValidSha256Hex(m.sha256))
    return InvalidArgument("must be 64 lowercase hex digits", "sha256");
  for (size_t i = 0; i < m.tags.size(); ++i) {
    if (m.tags[i].empty() || m.tags[i].size() > kMaxTagLength) {
      return InvalidArgument("must be 1-128 characters", Indexed("tags", i));
    }
    if (i > 0 && !(m.tags[i - 1] < m.tags[i])) {
      return InvalidArgument("tags must be sorted and unique", Indexed("tags", i));
    }
  }
  return Status::Ok();
}

json::object ToJson(const DatasetManifest& m) {
  json::object o;
  o["name"] = m.name;
  o["size"] = m.size;
  o["chunk_size"] = m.chunk_size;
  o["chunk_sha256"] = ToArray(m.chunk_sha256);
  o["sha256"] = m.sha256;
  o["zone"] = m.zone;
  o["tags"] = ToArray(m.tags);
  o["center"] = m.center;
  o["created_at"] = FormatRfc3339(m.created_at);
  return o;
}

Result<DatasetManifest> DatasetManifestFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(RejectUnknownFields(o, {"name", "size", "chunk_size", "chunk_sha256",
                                               "sha256", "zone", "tags", "center", "created_at"}));
  DatasetManifest m;
  EDWC_ASSIGN_OR_RETURN(m.name, GetString(o, "name"));
  EDWC_ASSIGN_OR_RETURN(m.size, GetInt(o, "size", 0, kMaxDatasetSize));
  EDWC_ASSIGN_OR_RETURN(m.chunk_size, GetInt(o, "chunk_size", kMinChunkSize, kMaxChunkSize));
  // The count is checked before the hashes are copied, so a huge array costs nothing.
  const json::value* hashes = o.if_contains("chunk_sha256");
  if (hashes == nullptr || hashes->is_null()) return InvalidArgument("is required", "chunk_sha256");
  if (hashes->is_array() && static_cast<int64_t>(hashes->get_array().size()) != m.chunk_count()) {
    return InvalidArgument("has " + std::to_string(hashes->get_array().size()) +
                               " hashes but size and chunk_size make " +
                               std::to_string(m.chunk_count()) + " chunks",
                           "chunk_sha256");
  }
  EDWC_ASSIGN_OR_RETURN(m.chunk_sha256, GetStringArray(o, "chunk_sha256"));
  EDWC_ASSIGN_OR_RETURN(m.sha256, GetString(o, "sha256"));
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> zone, GetOptionalString(o, "zone"));
  m.zone = zone.value_or("");
  EDWC_ASSIGN_OR_RETURN(m.tags, GetStringArray(o, "tags"));
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> center, GetOptionalString(o, "center"));
  m.center = center.value_or("");
  EDWC_ASSIGN_OR_RETURN(std::optional<Time> created_at, GetOptionalTime(o, "created_at"));
  if (!created_at) return InvalidArgument("is required", "created_at");
  m.created_at = *created_at;
  EDWC_RETURN_IF_ERROR(ValidateDatasetManifest(m));
  return m;
}

}  // namespace edwc::core
