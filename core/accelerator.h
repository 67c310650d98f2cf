// The accelerator catalog: models with vendor, dense FP16 TFLOPS and memory, each figure
// with its public source named (core/accelerator_catalog.cc). Jobs ask for a model by id
// or for a minimum FP16 TFLOPS and memory per device; adverts normalise free capacity
// to dense FP16 PFLOPS with these figures. Immutable; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace edwc::core {

struct AcceleratorModel {
  std::string_view id;        // stable key used in config and APIs: "h800", "ascend-910b"
  std::string_view name;      // display name: "NVIDIA H800 SXM5 80GB"
  std::string_view vendor;    // "NVIDIA", "Huawei", "Hygon", "Cambricon", ...
  int32_t fp16_dense_tflops;  // dense (no sparsity) FP16 tensor throughput per device
  int32_t memory_gib;         // device memory
  std::string_view source;    // where the figures come from (public datasheet or page)
};

// All models, in a stable order.
std::span<const AcceleratorModel> AcceleratorCatalog();

// nullptr when unknown.
const AcceleratorModel* FindAccelerator(std::string_view id);

}  // namespace edwc::core
