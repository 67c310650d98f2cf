// The `slurm` capacity source: total and used GRES GPUs per accelerator model, read from
// slurmrestd (GET /slurm/<api_version>/nodes over its unix socket) by a background thread
// every `refresh`. Read() returns the last snapshot and never waits on I/O; OnChange
// callbacks run on the refresh thread after a snapshot that differs from the one before.
// Thread-safe. The source owns its thread; destroying it stops and joins the thread.
//
// Mapping: each node's `gres` ("gpu:a100:8,gpu:h800:4(S:0)") gives totals and
// `gres_used` ("gpu:a100:2(IDX:0-1),gpu:h800:0(IDX:N/A)") the used count per Slurm GPU
// type; `gres_models` maps types to catalog ids (several types may map to one id).
// GPUs of a type not in `gres_models` (or untyped) are ignored, with one warning per
// type. A node that cannot take work (state down/error/future/unknown, or a flag such
// as DRAIN or NOT_RESPONDING) keeps its GPUs in `total` but counts all of them as used,
// so the center's size stays stable while nothing on it is offered as free.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "executor/capacity.h"

namespace edwc::executor {

struct SlurmCapacityOptions {
  std::string socket_path;  // slurmrestd's unix socket (rest_auth/local)
  std::chrono::milliseconds refresh{5000};
  // Slurm GRES type -> catalog model id, e.g. {"a100", "a100-80g"}, {"h800", "h800"}.
  std::vector<std::pair<std::string, std::string>> gres_models;
  std::string api_version = "v0.0.38";
  // Bound on one request (connect, write, whole response).
  std::chrono::milliseconds io_timeout{3000};
  // Read() keeps returning the last good snapshot until this many refreshes in a row
  // have failed; then it returns the last failure (so a dead slurmrestd is not hidden).
  int32_t failures_before_unavailable = 3;
};

// Reads once before returning: kUnavailable (naming the socket and the reason) when
// slurmrestd cannot be reached or answers with an error, kCorruption (naming the field)
// when its answer cannot be parsed, kInvalidArgument for bad options (unknown catalog
// id, empty socket path, non-positive intervals).
core::Result<CapacitySourcePtr> MakeSlurmCapacity(SlurmCapacityOptions options);

// Parsing, exposed for tests. ------------------------------------------------------------

// One GPU entry of a gres string: type "" when untyped ("gpu:2").
struct GresGpuCount {
  std::string type;
  int32_t count = 0;
};

// GPU entries of a `gres` or `gres_used` string; other GRES names (mps, shard, ...) are
// skipped. "", "(null)" and "N/A" are empty. kCorruption naming `field` when malformed.
core::Result<std::vector<GresGpuCount>> ParseGresGpus(std::string_view gres,
                                                      std::string_view field);

struct SlurmNodesCapacity {
  std::vector<ModelCapacity> models;       // every model in gres_models, by model id
  std::vector<std::string> ignored_types;  // GPU types not in gres_models, distinct
  int32_t unavailable_nodes = 0;           // down, drained, ... (their GPUs count as used)
};

// The body of GET /slurm/v0.0.38/nodes -> capacity. A non-empty `errors` array is
// kUnavailable (slurmrestd could not ask slurmctld); malformed input kCorruption.
core::Result<SlurmNodesCapacity> CapacityFromSlurmNodes(
    std::string_view body, const std::vector<std::pair<std::string, std::string>>& gres_models);

}  // namespace edwc::executor
