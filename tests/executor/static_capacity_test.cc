#include "executor/capacity.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace edwc::executor {
namespace {

TEST(StaticCapacityTest, ReadsInventorySortedByModelWithNothingUsed) {
  CapacitySourcePtr source =
      MakeStaticCapacity({{"h800", 8, 3}, {"ascend-910b", 16, 0}, {"a100-80g", 4, 0}});
  core::Result<std::vector<ModelCapacity>> r = source->Read();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].model, "a100-80g");
  EXPECT_EQ((*r)[1].model, "ascend-910b");
  EXPECT_EQ((*r)[2].model, "h800");
  EXPECT_EQ((*r)[2].total, 8);
  EXPECT_EQ((*r)[2].used, 0);  // static inventory ignores any `used` passed in
  EXPECT_EQ((*r)[2].free(), 8);
}

TEST(StaticCapacityTest, EmptyInventory) {
  core::Result<std::vector<ModelCapacity>> r = MakeStaticCapacity({})->Read();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(StaticCapacityTest, ReadsAreIndependentCopies) {
  CapacitySourcePtr source = MakeStaticCapacity({{"h20", 2, 0}});
  core::Result<std::vector<ModelCapacity>> first = source->Read();
  ASSERT_TRUE(first.ok());
  (*first)[0].used = 2;
  EXPECT_EQ((*source->Read())[0].used, 0);
}

TEST(StaticCapacityTest, ConcurrentReadsAgree) {
  CapacitySourcePtr source = MakeStaticCapacity({{"l20", 5, 0}, {"h20", 7, 0}});
  std::vector<std::thread> threads;
  std::vector<int> totals(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 1000; ++k) {
        core::Result<std::vector<ModelCapacity>> r = source->Read();
        if (r.ok() && r->size() == 2 && (*r)[0].model == "h20") totals[i] += (*r)[0].total;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int total : totals) EXPECT_EQ(total, 7000);
}

}  // namespace
}  // namespace edwc::executor
