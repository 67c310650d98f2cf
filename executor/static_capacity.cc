#include "executor/capacity.h"

#include <algorithm>

namespace edwc::executor {

namespace {

// Immutable after construction, so Read() needs no lock.
class StaticCapacity final : public CapacitySource {
 public:
  explicit StaticCapacity(std::vector<ModelCapacity> inventory) : inventory_(std::move(inventory)) {
    for (ModelCapacity& m : inventory_) m.used = 0;
    std::sort(inventory_.begin(), inventory_.end(),
              [](const ModelCapacity& a, const ModelCapacity& b) { return a.model < b.model; });
  }

  core::Result<std::vector<ModelCapacity>> Read() override { return inventory_; }

 private:
  std::vector<ModelCapacity> inventory_;
};

}  // namespace

CapacitySourcePtr MakeStaticCapacity(std::vector<ModelCapacity> inventory) {
  return std::make_unique<StaticCapacity>(std::move(inventory));
}

}  // namespace edwc::executor
