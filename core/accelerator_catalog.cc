// Figures are dense (no sparsity) FP16 tensor throughput in TFLOPS and device memory in
// GiB (vendors write "GB"; the catalog treats the marketed number as GiB), per device, from
// each vendor's public datasheet or product page named in `source`. Where a vendor
// publishes "up to" or only a sparsity figure, the dense figure is half of the sparse one.
// Fractions are truncated (L20: 119.5 -> 119). Entries marked "approximate" have no clean
// public per-device figure; they are good enough to rank capacity, not to quote.
// Order is stable: append new models at the end, never reorder (APIs list in this order).
#include "core/accelerator.h"

#include <array>

namespace edwc::core {

namespace {

constexpr std::array<AcceleratorModel, 8> kCatalog = {{
    {"a100-80g", "NVIDIA A100 SXM4 80GB", "NVIDIA", 312, 80,
     "NVIDIA A100 Tensor Core GPU datasheet: FP16 Tensor Core 312 TFLOPS (624 with sparsity)"},
    {"h100-80g", "NVIDIA H100 SXM5 80GB", "NVIDIA", 989, 80,
     "NVIDIA H100 Tensor Core GPU datasheet, SXM: FP16 Tensor Core 1979 TFLOPS with sparsity, "
     "989 dense"},
    {"h800", "NVIDIA H800 SXM5 80GB", "NVIDIA", 989, 80,
     "NVIDIA H800 SXM5 product brief: FP16 Tensor Core as H100 SXM, 1979 TFLOPS with "
     "sparsity, 989 dense"},
    {"h20", "NVIDIA H20 96GB", "NVIDIA", 148, 96,
     "NVIDIA H20 product brief: FP16/BF16 Tensor Core 148 TFLOPS dense, 96GB HBM3"},
    {"l20", "NVIDIA L20 48GB", "NVIDIA", 119, 48,
     "NVIDIA L20 product brief: FP16 Tensor Core 119.5 TFLOPS dense, 48GB GDDR6"},
    {"ascend-910b", "Huawei Ascend 910B", "Huawei", 320, 64,
     "Huawei Ascend 910B as published for Atlas 800T A2 (approximate: per-chip FP16 "
     "figures vary by 910B bin, ~313-376 TFLOPS; 64GB HBM2e)"},
    {"hygon-dcu-k100", "Hygon DCU K100", "Hygon", 100, 64,
     "Hygon DCU K100 product announcements (approximate: no public datasheet; ~100 TFLOPS "
     "FP16, 64GB HBM2e)"},
    {"cambricon-mlu370-x8", "Cambricon MLU370-X8", "Cambricon", 96, 48,
     "Cambricon MLU370-X8 product page: FP16 96 TFLOPS, 48GB LPDDR5"},
}};

}  // namespace

std::span<const AcceleratorModel> AcceleratorCatalog() { return kCatalog; }

const AcceleratorModel* FindAccelerator(std::string_view id) {
  for (const AcceleratorModel& model : kCatalog) {
    if (model.id == id) return &model;
  }
  return nullptr;
}

}  // namespace edwc::core
