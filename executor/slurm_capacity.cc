#include "executor/slurm_capacity.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/accelerator.h"
#include "core/log.h"
#include "executor/slurmrestd.h"

namespace edwc::executor {

namespace json = boost::json;

namespace {

constexpr std::string_view kLog = "slurm";

core::Status Corruption(std::string message, std::string field) {
  return core::Status(core::Code::kCorruption, std::move(message), std::move(field));
}

core::Status Unavailable(std::string message) {
  return core::Status(core::Code::kUnavailable, std::move(message));
}

// A non-negative decimal count; nullopt when `s` is not one.
std::optional<int32_t> ParseCount(std::string_view s) {
  int32_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n < 0) return std::nullopt;
  return n;
}

// One entry "name[:type][:count][(...)]" -> the GPU count, or nullopt for other names.
core::Result<std::optional<GresGpuCount>> ParseGresEntry(std::string_view entry,
                                                         std::string_view field) {
  auto bad = [&] {
    return Corruption("malformed gres entry '" + std::string(entry) + "'", std::string(field));
  };
  // The suffix starts at the first '(' that is not a "(null)" type: "gpu:(null):0(IDX:N/A)".
  size_t paren = entry.find('(');
  while (paren != std::string_view::npos && entry.substr(paren).starts_with("(null)")) {
    paren = entry.find('(', paren + 1);
  }
  std::string_view spec = entry;
  if (paren != std::string_view::npos) {
    if (entry.back() != ')') return bad();
    spec = entry.substr(0, paren);
  }
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t colon = spec.find(':', start);
    parts.push_back(spec.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3 || parts[0].empty()) return bad();
  if (parts[0] != "gpu") return std::optional<GresGpuCount>();
  GresGpuCount gpu{.type = "", .count = 1};
  if (parts.size() == 2) {
    if (std::optional<int32_t> n = ParseCount(parts[1])) {
      gpu.count = *n;
    } else {
      gpu.type = parts[1];
    }
  } else if (parts.size() == 3) {
    std::optional<int32_t> n = ParseCount(parts[2]);
    if (!n) return bad();
    gpu.type = parts[1];
    gpu.count = *n;
  }
  if (gpu.type == "(null)") gpu.type.clear();
  return std::optional<GresGpuCount>(std::move(gpu));
}

// Node base states and flags (openapi v0.0.38 `state`, `state_flags`) that mean the node
// takes no new work.
bool NodeUnavailable(std::string_view state, const json::array* flags) {
  static const std::set<std::string_view> kStates = {"down", "error", "future", "unknown"};
  static const std::set<std::string_view> kFlags = {
      "DRAIN",      "FAIL",          "NOT_RESPONDING", "POWERED_DOWN", "POWERING_DOWN",
      "POWER_DOWN", "REBOOT_ISSUED", "MAINTENANCE",    "INVALID_REG"};
  if (kStates.contains(state)) return true;
  if (flags == nullptr) return false;
  return std::any_of(flags->begin(), flags->end(), [](const json::value& f) {
    return f.is_string() && kFlags.contains(std::string_view(f.get_string()));
  });
}

core::Result<std::string_view> NodeString(const json::object& node, std::string_view key,
                                          const std::string& prefix) {
  const json::value* v = node.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return Corruption("missing or not a string", prefix + "." + std::string(key));
  }
  return std::string_view(v->get_string());
}

// GPU counts per type of one gres string, summed.
core::Result<std::map<std::string, int32_t>> GpusByType(std::string_view gres,
                                                        const std::string& field) {
  EDWC_ASSIGN_OR_RETURN(std::vector<GresGpuCount> gpus, ParseGresGpus(gres, field));
  std::map<std::string, int32_t> by_type;
  for (GresGpuCount& g : gpus) by_type[std::move(g.type)] += g.count;
  return by_type;
}

core::Result<SlurmNodesCapacity> FetchNodes(const SlurmCapacityOptions& options) {
  const std::string target = "/slurm/" + options.api_version + "/nodes";
  core::Result<SlurmNodesCapacity> result = [&]() -> core::Result<SlurmNodesCapacity> {
    EDWC_ASSIGN_OR_RETURN(
        slurmrestd::HttpResponse response,
        slurmrestd::Request(options.socket_path, "GET", target, "", options.io_timeout));
    if (response.status != 200) {
      return Unavailable("GET " + target + ": HTTP " + std::to_string(response.status) + ": " +
                         slurmrestd::Excerpt(response.body));
    }
    return CapacityFromSlurmNodes(response.body, options.gres_models);
  }();
  if (!result.ok()) return result.status().WithContext("slurmrestd at " + options.socket_path);
  return result;
}

bool SameCapacity(const std::vector<ModelCapacity>& a, const std::vector<ModelCapacity>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const ModelCapacity& x, const ModelCapacity& y) {
                      return x.model == y.model && x.total == y.total && x.used == y.used;
                    });
}

class SlurmCapacity final : public CapacitySource {
 public:
  SlurmCapacity(SlurmCapacityOptions options, SlurmNodesCapacity first)
      : options_(std::move(options)), snapshot_(std::move(first.models)) {
    WarnIgnored(first.ignored_types);
    thread_ = std::thread([this] { Run(); });
  }

  ~SlurmCapacity() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  core::Result<std::vector<ModelCapacity>> Read() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (failures_ >= options_.failures_before_unavailable) return last_error_;
    return snapshot_;
  }

  void OnChange(std::function<void()> callback) override {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_.push_back(std::move(callback));
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait_for(lock, options_.refresh, [this] { return stopping_; });
      if (stopping_) return;
      lock.unlock();
      core::Result<SlurmNodesCapacity> fetched = FetchNodes(options_);
      if (fetched.ok()) WarnIgnored(fetched->ignored_types);
      lock.lock();
      const bool was_available = failures_ < options_.failures_before_unavailable;
      const int32_t failures_before = failures_;
      bool changed = false;
      if (fetched.ok()) {
        changed = !was_available || !SameCapacity(snapshot_, fetched->models);
        snapshot_ = std::move(fetched->models);
        failures_ = 0;
      } else {
        last_error_ = fetched.status();
        ++failures_;
        changed = was_available && failures_ >= options_.failures_before_unavailable;
      }
      std::vector<std::function<void()>> callbacks = changed ? callbacks_ : decltype(callbacks_)();
      lock.unlock();
      if (!fetched.ok() && failures_before == 0) {
        core::LogWarn(kLog, "refresh failed: " + fetched.status().ToString());
      } else if (fetched.ok() && failures_before > 0) {
        core::LogInfo(kLog,
                      "refresh recovered after " + std::to_string(failures_before) + " failures");
      }
      for (const std::function<void()>& callback : callbacks) callback();
      lock.lock();
    }
  }

  // Warns once per GPU type that no model maps; only the constructor and Run() call it.
  void WarnIgnored(const std::vector<std::string>& types) {
    for (const std::string& type : types) {
      if (!warned_types_.insert(type).second) continue;
      core::LogWarn(kLog, "ignoring GPUs of gres type '" + (type.empty() ? "(untyped)" : type) +
                              "' at " + options_.socket_path + ": not in gres_models");
    }
  }

  const SlurmCapacityOptions options_;
  std::set<std::string> warned_types_;  // constructor, then the refresh thread only

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                         // GUARDED_BY(mu_)
  std::vector<ModelCapacity> snapshot_;           // GUARDED_BY(mu_)
  int32_t failures_ = 0;                          // GUARDED_BY(mu_), in a row
  core::Status last_error_;                       // GUARDED_BY(mu_)
  std::vector<std::function<void()>> callbacks_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

core::Status ValidateOptions(const SlurmCapacityOptions& options) {
  if (options.socket_path.empty()) {
    return core::InvalidArgument("must name slurmrestd's unix socket", "socket_path");
  }
  if (options.refresh.count() <= 0) return core::InvalidArgument("must be positive", "refresh");
  if (options.io_timeout.count() <= 0) {
    return core::InvalidArgument("must be positive", "io_timeout");
  }
  if (options.failures_before_unavailable < 1) {
    return core::InvalidArgument("must be at least 1", "failures_before_unavailable");
  }
  if (options.api_version.empty() ||
      options.api_version.find_first_of("/?# ") != std::string::npos) {
    return core::InvalidArgument("must be a version such as v0.0.38", "api_version");
  }
  if (options.gres_models.empty()) {
    return core::InvalidArgument("must map at least one gres type", "gres_models");
  }
  std::set<std::string_view> types;
  for (const auto& [type, model] : options.gres_models) {
    if (type.empty() || !types.insert(type).second) {
      return core::InvalidArgument("empty or repeated gres type '" + type + "'", "gres_models");
    }
    if (core::FindAccelerator(model) == nullptr) {
      return core::InvalidArgument("unknown accelerator model '" + model + "'", "gres_models");
    }
  }
  return core::Status::Ok();
}

}  // namespace

core::Result<std::vector<GresGpuCount>> ParseGresGpus(std::string_view gres,
                                                      std::string_view field) {
  std::vector<GresGpuCount> gpus;
  if (gres.empty() || gres == "(null)" || gres == "N/A") return gpus;
  // Entries are comma-separated, but index lists inside parentheses hold commas too:
  // "gpu:a100:3(IDX:0-1,4)".
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= gres.size(); ++i) {
    char c = i < gres.size() ? gres[i] : ',';
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) break;
    if (c != ',' || depth != 0) continue;
    EDWC_ASSIGN_OR_RETURN(std::optional<GresGpuCount> gpu,
                          ParseGresEntry(gres.substr(start, i - start), field));
    if (gpu) gpus.push_back(std::move(*gpu));
    start = i + 1;
  }
  if (depth != 0) {
    return Corruption("unbalanced parentheses in '" + std::string(gres) + "'", std::string(field));
  }
  return gpus;
}

core::Result<SlurmNodesCapacity> CapacityFromSlurmNodes(
    std::string_view body, const std::vector<std::pair<std::string, std::string>>& gres_models) {
  boost::system::error_code ec;
  json::value root = json::parse(body, ec);
  if (ec) return Corruption("not JSON: " + ec.message(), "body");
  if (!root.is_object()) return Corruption("not an object", "body");
  const json::object& top = root.get_object();
  if (const json::value* errors = top.if_contains("errors");
      errors != nullptr && errors->is_array() && !errors->get_array().empty()) {
    return Unavailable("slurmrestd reports " + json::serialize(errors->get_array()[0]));
  }
  const json::value* nodes = top.if_contains("nodes");
  if (nodes == nullptr || !nodes->is_array()) return Corruption("missing or not an array", "nodes");

  std::map<std::string, std::string_view> model_of;  // gres type -> model id
  std::map<std::string_view, ModelCapacity> by_model;
  for (const auto& [type, model] : gres_models) {
    model_of[type] = model;
    by_model[model].model = model;
  }
  SlurmNodesCapacity out;
  std::set<std::string> ignored;
  const json::array& list = nodes->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string prefix = "nodes[" + std::to_string(i) + "]";
    if (!list[i].is_object()) return Corruption("not an object", prefix);
    const json::object& node = list[i].get_object();
    EDWC_ASSIGN_OR_RETURN(std::string_view gres, NodeString(node, "gres", prefix));
    EDWC_ASSIGN_OR_RETURN(std::string_view gres_used, NodeString(node, "gres_used", prefix));
    EDWC_ASSIGN_OR_RETURN(std::string_view state, NodeString(node, "state", prefix));
    const json::value* flags = node.if_contains("state_flags");
    if (flags != nullptr && !flags->is_array()) {
      return Corruption("not an array", prefix + ".state_flags");
    }
    const bool unavailable = NodeUnavailable(state, flags ? &flags->get_array() : nullptr);
    if (unavailable) ++out.unavailable_nodes;
    EDWC_ASSIGN_OR_RETURN(auto total, GpusByType(gres, prefix + ".gres"));
    EDWC_ASSIGN_OR_RETURN(auto used, GpusByType(gres_used, prefix + ".gres_used"));
    for (const auto& [type, count] : total) {
      auto mapped = model_of.find(type);
      if (mapped == model_of.end()) {
        ignored.insert(type);
        continue;
      }
      ModelCapacity& m = by_model[mapped->second];
      m.total += count;
      m.used += unavailable ? count : std::min(count, used[type]);
    }
  }
  for (auto& [id, m] : by_model) out.models.push_back(std::move(m));
  out.ignored_types.assign(ignored.begin(), ignored.end());
  return out;
}

core::Result<CapacitySourcePtr> MakeSlurmCapacity(SlurmCapacityOptions options) {
  EDWC_RETURN_IF_ERROR(ValidateOptions(options));
  EDWC_ASSIGN_OR_RETURN(SlurmNodesCapacity first, FetchNodes(options));
  return CapacitySourcePtr(std::make_unique<SlurmCapacity>(std::move(options), std::move(first)));
}

}  // namespace edwc::executor
