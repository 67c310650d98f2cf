// Capacity sources: where a center's total and used accelerators come from. The
// `static` source is the `process` executor's capacity side: inventory from config,
// with nothing used until jobs run (issue 4 adds the running side). `slurm` reads
// slurmrestd (federation issue). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace edwc::executor {

struct ModelCapacity {
  std::string model;  // catalog id
  int32_t total = 0;
  int32_t used = 0;  // held or running
  int32_t free() const { return total - used; }
};

class CapacitySource {
 public:
  virtual ~CapacitySource() = default;
  // The current capacity per model, in a stable (model id) order.
  virtual core::Result<std::vector<ModelCapacity>> Read() = 0;
  // Registers `callback` to run after capacity changes (so a new advert can go out). It
  // runs on the source's own thread and must not block; it may call Read(). Sources whose
  // capacity never changes on their own (static) ignore it.
  virtual void OnChange(std::function<void()> callback) { (void)callback; }
};

using CapacitySourcePtr = std::unique_ptr<CapacitySource>;

// Inventory from config: (model, count) pairs. REQUIRES: models are distinct catalog ids.
CapacitySourcePtr MakeStaticCapacity(std::vector<ModelCapacity> inventory);

}  // namespace edwc::executor
