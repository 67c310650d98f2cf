#include "core/accelerator.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

#include "core/ids.h"

namespace edwc::core {
namespace {

TEST(AcceleratorTest, IdsAreUniqueAndWellFormed) {
  std::set<std::string_view> ids;
  for (const AcceleratorModel& m : AcceleratorCatalog()) {
    EXPECT_TRUE(ids.insert(m.id).second) << "duplicate " << m.id;
    // Model ids share the CenterId syntax: they appear in URLs, config keys and metrics.
    EXPECT_TRUE(IsValidCenterId(m.id)) << m.id;
  }
  EXPECT_GE(ids.size(), 8u);
}

TEST(AcceleratorTest, EveryEntryHasFiguresAndSource) {
  for (const AcceleratorModel& m : AcceleratorCatalog()) {
    EXPECT_GT(m.fp16_dense_tflops, 0) << m.id;
    EXPECT_GT(m.memory_gib, 0) << m.id;
    EXPECT_FALSE(m.name.empty()) << m.id;
    EXPECT_FALSE(m.vendor.empty()) << m.id;
    EXPECT_FALSE(m.source.empty()) << m.id;
  }
}

TEST(AcceleratorTest, FindsKnownModels) {
  const AcceleratorModel* h800 = FindAccelerator("h800");
  ASSERT_NE(h800, nullptr);
  EXPECT_EQ(h800->fp16_dense_tflops, 989);
  EXPECT_EQ(h800->memory_gib, 80);
  const AcceleratorModel* a100 = FindAccelerator("a100-80g");
  ASSERT_NE(a100, nullptr);
  EXPECT_EQ(a100->fp16_dense_tflops, 312);
  EXPECT_EQ(FindAccelerator("ascend-910b")->vendor, "Huawei");
  EXPECT_EQ(FindAccelerator("l20")->fp16_dense_tflops, 119);
  EXPECT_EQ(FindAccelerator("H800"), nullptr);
  EXPECT_EQ(FindAccelerator(""), nullptr);
}

TEST(AcceleratorTest, OrderIsStable) {
  // Appending is fine; reordering breaks API listings. The first entries are pinned.
  const auto catalog = AcceleratorCatalog();
  ASSERT_GE(catalog.size(), 3u);
  EXPECT_EQ(catalog[0].id, "a100-80g");
  EXPECT_EQ(catalog[1].id, "h100-80g");
  EXPECT_EQ(catalog[2].id, "h800");
}

}  // namespace
}  // namespace edwc::core
