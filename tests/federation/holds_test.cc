// Unit tests of the target center's HoldBook (federation/holds.h).
#include "federation/holds.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>

namespace edwc::federation {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const core::Time kT0 = core::Time(milliseconds(1'800'000'000'000));

// 10 CNY per device-hour, no windows: 1 device for 1 hour = 1000 fen.
PriceSnapshot Prices() {
  PriceSnapshot p;
  p.schedules["a100"] = core::PriceSchedule{core::Money::Fen(1000), {}};
  return p;
}

HoldRequest Request(std::string id, int32_t count = 2) {
  HoldRequest q;
  q.hold_id = std::move(id);
  q.job_id = "job-1";
  q.terms.model = "a100";
  q.terms.count = count;
  q.terms.duration = minutes(60);
  q.terms.command = {"python", "train.py"};
  q.terms.env = {{"EPOCHS", "3"}};
  q.ttl = seconds(30);
  return q;
}

class HoldBookTest : public ::testing::Test {
 protected:
  HoldBookTest() : book_("wuhu") { book_.SetCapacity("a100", 8, 0); }
  CreateResult Grant(const std::string& id, int32_t count = 2, core::Time at = kT0) {
    return book_.Create(Request(id, count), "qingpu", at, Prices());
  }
  HoldBook book_;
};

TEST_F(HoldBookTest, GrantsLowestDevicesFirstAndPersists) {
  CreateResult a = Grant("qingpu.j1.1", 3);
  ASSERT_TRUE(a.status.ok());
  ASSERT_TRUE(a.record);
  EXPECT_EQ(a.record->state, HoldState::kHeld);
  EXPECT_EQ(a.record->devices, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(a.record->expires_at, kT0 + seconds(30));
  EXPECT_EQ(a.record->firm.estimated_total, core::Money::Fen(3000));
  ASSERT_EQ(a.to_persist.size(), 1u);
  EXPECT_EQ(a.to_persist[0], *a.record);
  CreateResult b = Grant("qingpu.j2.1", 2);
  EXPECT_EQ(b.record->devices, (std::vector<int32_t>{3, 4}));
  // Releasing the first frees 0..2 for the next grant.
  ASSERT_TRUE(book_.Release("qingpu.j1.1", "qingpu", kT0).status.ok());
  CreateResult c = Grant("qingpu.j3.1", 4);
  EXPECT_EQ(c.record->devices, (std::vector<int32_t>{0, 1, 2, 5}));
  EXPECT_EQ(book_.Free("a100"), 2);
  EXPECT_TRUE(book_.CheckInvariants().ok());
}

TEST_F(HoldBookTest, SameIdSameContentReturnsTheFirstAnswer) {
  CreateResult a = Grant("qingpu.j1.1");
  CreateResult b = Grant("qingpu.j1.1");
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(*b.record, *a.record);
  EXPECT_TRUE(b.to_persist.empty());
  EXPECT_EQ(book_.Free("a100"), 6);
}

TEST_F(HoldBookTest, SameIdOtherContentIsAConflictNamingTheField) {
  Grant("qingpu.j1.1");
  CreateResult count = Grant("qingpu.j1.1", 3);
  EXPECT_EQ(count.status.code(), core::Code::kConflict);
  EXPECT_EQ(count.status.field(), "count");
  HoldRequest q = Request("qingpu.j1.1");
  q.terms.model = "h800";
  CreateResult model = book_.Create(q, "qingpu", kT0, Prices());
  EXPECT_EQ(model.status.code(), core::Code::kConflict);
  EXPECT_EQ(model.status.field(), "model");
  q = Request("qingpu.j1.1");
  q.terms.env = {{"EPOCHS", "4"}};
  EXPECT_EQ(book_.Create(q, "qingpu", kT0, Prices()).status.field(), "env");
  // Another center may not touch it.
  EXPECT_EQ(book_.Create(Request("qingpu.j1.1"), "tianfu", kT0, Prices()).status.code(),
            core::Code::kPermissionDenied);
  EXPECT_EQ(book_.Commit("qingpu.j1.1", "tianfu", kT0).status.code(), core::Code::kNotFound);
}

TEST_F(HoldBookTest, RejectionsAreAnswersNotPersisted) {
  CreateResult unknown = book_.Create(
      [] {
        HoldRequest q = Request("x.1");
        q.terms.model = "h800";
        return q;
      }(),
      "qingpu", kT0, Prices());
  ASSERT_TRUE(unknown.rejection);
  EXPECT_EQ(unknown.rejection->reason, "no_such_model");
  Grant("qingpu.j1.1", 7);
  CreateResult few = Grant("qingpu.j2.1", 2);
  ASSERT_TRUE(few.rejection);
  EXPECT_EQ(few.rejection->reason, "too_few_free");
  EXPECT_EQ(few.rejection->free, 1);
  EXPECT_TRUE(few.to_persist.empty());
  EXPECT_EQ(book_.Get("qingpu.j2.1"), nullptr);
  // A retry of the same id once capacity came back is granted.
  book_.Release("qingpu.j1.1", "qingpu", kT0);
  EXPECT_TRUE(Grant("qingpu.j2.1", 2).record);
}

TEST_F(HoldBookTest, PriceCap) {
  HoldRequest q = Request("qingpu.j1.1", 2);  // 2000 fen
  q.terms.price_cap = core::Money::Fen(1999);
  CreateResult over = book_.Create(q, "qingpu", kT0, Prices());
  ASSERT_TRUE(over.rejection);
  EXPECT_EQ(over.rejection->reason, "over_price_cap");
  EXPECT_EQ(over.rejection->estimated_total, core::Money::Fen(2000));
  q.terms.price_cap = core::Money::Fen(2000);
  EXPECT_TRUE(book_.Create(q, "qingpu", kT0, Prices()).record);
}

TEST_F(HoldBookTest, SurgeScalesTheFirmPrice) {
  PriceSnapshot p = Prices();
  p.surge_permille = 1500;
  CreateResult a = book_.Create(Request("qingpu.j1.1", 2), "qingpu", kT0, p);
  EXPECT_EQ(a.record->firm.estimated_total, core::Money::Fen(3000));
  // A rule: above 50% use, up to +100% at full use. 2 of 8 used before: no surge;
  // 6 of 8 used before the next grant: +50%.
  p.surge_rule = core::SurgeRule{500, 1000};
  CreateResult b = book_.Create(Request("qingpu.j2.1", 4), "qingpu", kT0, p);
  EXPECT_EQ(b.record->firm.surge_permille, 1000);
  CreateResult c = book_.Create(Request("qingpu.j3.1", 1), "qingpu", kT0, p);
  EXPECT_EQ(c.record->firm.surge_permille, 1500);
  EXPECT_EQ(c.record->firm.estimated_total, core::Money::Fen(1500));
}

TEST_F(HoldBookTest, CreditLimitCountsActiveHoldsAndEndedJobs) {
  PriceSnapshot p = Prices();
  p.credit.default_limit = core::Money::Fen(100000);
  p.credit.limits["qingpu"] = core::Money::Fen(3000);
  EXPECT_TRUE(book_.Create(Request("qingpu.j1.1", 2), "qingpu", kT0, p).record);  // 2000
  CreateResult over = book_.Create(Request("qingpu.j2.1", 2), "qingpu", kT0, p);
  ASSERT_TRUE(over.rejection);
  EXPECT_EQ(over.rejection->reason, "credit_limit");
  EXPECT_EQ(book_.Exposure("qingpu"), core::Money::Fen(2000));
  // Another router falls under the default limit.
  EXPECT_TRUE(book_.Create(Request("tianfu.j1.1", 2), "tianfu", kT0, p).record);
  // The job ran half an hour: exposure becomes its cost (1000), room for one device-hour.
  book_.Commit("qingpu.j1.1", "qingpu", kT0);
  book_.MarkStarted("qingpu.j1.1", "pid:1", kT0);
  book_.MarkEnded("qingpu.j1.1", {HoldState::kSucceeded, 0, "", kT0, kT0 + minutes(30)});
  EXPECT_EQ(book_.Exposure("qingpu"), core::Money::Fen(1000));
  EXPECT_TRUE(book_.Create(Request("qingpu.j3.1", 2), "qingpu", kT0, p).record);
}

TEST_F(HoldBookTest, ExpiresAtExactlyExpiresAt) {
  Grant("qingpu.j1.1");
  EXPECT_TRUE(book_.Tick(kT0 + seconds(30) - milliseconds(1)).empty());
  EXPECT_EQ(book_.NextDeadline(), kT0 + seconds(30));
  std::vector<HoldRecord> expired = book_.Tick(kT0 + seconds(30));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].state, HoldState::kExpired);
  EXPECT_EQ(book_.Free("a100"), 8);
  EXPECT_FALSE(book_.NextDeadline());
  HoldOpResult commit = book_.Commit("qingpu.j1.1", "qingpu", kT0 + seconds(31));
  EXPECT_EQ(commit.status.code(), core::Code::kFailedPrecondition);
  EXPECT_EQ(commit.status.message(), "hold expired");
  // The same id again: the existing (expired) record, so the router moves on.
  CreateResult again = Grant("qingpu.j1.1", 2, kT0 + seconds(31));
  EXPECT_EQ(again.record->state, HoldState::kExpired);
}

TEST_F(HoldBookTest, CommitAtExpiryWithoutTickFails) {
  Grant("qingpu.j1.1");
  HoldOpResult commit = book_.Commit("qingpu.j1.1", "qingpu", kT0 + seconds(30));
  EXPECT_EQ(commit.status.message(), "hold expired");
  ASSERT_EQ(commit.to_persist.size(), 1u);
  EXPECT_EQ(commit.to_persist[0].state, HoldState::kExpired);
}

TEST_F(HoldBookTest, TtlIsClamped) {
  HoldRequest q = Request("a.1");
  q.ttl = milliseconds(1);
  EXPECT_EQ(book_.Create(q, "a", kT0, Prices()).record->expires_at, kT0 + seconds(1));
  q = Request("a.2");
  q.ttl = minutes(60);
  EXPECT_EQ(book_.Create(q, "a", kT0, Prices()).record->expires_at, kT0 + minutes(5));
}

TEST_F(HoldBookTest, CommitRunEndIsIdempotentAndBilled) {
  Grant("qingpu.j1.1");
  HoldOpResult c1 = book_.Commit("qingpu.j1.1", "qingpu", kT0 + seconds(1));
  ASSERT_TRUE(c1.status.ok());
  EXPECT_TRUE(c1.start_executor);
  EXPECT_EQ(c1.record->state, HoldState::kCommitted);
  ASSERT_EQ(c1.to_persist.size(), 1u);
  HoldOpResult c2 = book_.Commit("qingpu.j1.1", "qingpu", kT0 + seconds(2));
  EXPECT_TRUE(c2.status.ok());
  EXPECT_FALSE(c2.start_executor);
  EXPECT_TRUE(c2.to_persist.empty());
  // Committed holds do not expire.
  EXPECT_TRUE(book_.Tick(kT0 + minutes(10)).empty());
  EXPECT_EQ(book_.Release("qingpu.j1.1", "qingpu", kT0).status.code(),
            core::Code::kFailedPrecondition);
  HoldOpResult s = book_.MarkStarted("qingpu.j1.1", "pid:42", kT0 + seconds(2));
  EXPECT_EQ(s.record->state, HoldState::kRunning);
  HoldOpResult e = book_.MarkEnded(
      "qingpu.j1.1", {HoldState::kSucceeded, 0, "ok", kT0 + seconds(2), kT0 + seconds(3602)});
  ASSERT_TRUE(e.status.ok());
  EXPECT_EQ(e.record->state, HoldState::kSucceeded);
  ASSERT_TRUE(e.record->usage);
  EXPECT_EQ(e.record->usage->accelerator_ms, 2 * 3600 * 1000);
  EXPECT_EQ(e.record->usage->cost, core::Money::Fen(2000));
  EXPECT_EQ(book_.Free("a100"), 8);
  // Reports after the end change nothing; Commit still answers the record.
  EXPECT_TRUE(book_.MarkEnded("qingpu.j1.1", {HoldState::kFailed}).to_persist.empty());
  EXPECT_EQ(book_.Commit("qingpu.j1.1", "qingpu", kT0).record->state, HoldState::kSucceeded);
  EXPECT_GT(e.record->version, c1.record->version);
}

TEST_F(HoldBookTest, ReleaseAndCancel) {
  Grant("qingpu.j1.1");
  EXPECT_EQ(book_.Release("qingpu.j1.1", "qingpu", kT0).record->state, HoldState::kReleased);
  HoldOpResult again = book_.Release("qingpu.j1.1", "qingpu", kT0);
  EXPECT_TRUE(again.status.ok());
  EXPECT_TRUE(again.to_persist.empty());
  EXPECT_EQ(book_.Commit("qingpu.j1.1", "qingpu", kT0).status.message(), "released");

  Grant("qingpu.j2.1");
  EXPECT_EQ(book_.Cancel("qingpu.j2.1", "qingpu", kT0).record->state, HoldState::kReleased);

  Grant("qingpu.j3.1");
  book_.Commit("qingpu.j3.1", "qingpu", kT0);
  HoldOpResult c = book_.Cancel("qingpu.j3.1", "qingpu", kT0);
  EXPECT_EQ(c.record->state, HoldState::kCancelled);
  EXPECT_TRUE(c.stop_executor);
  EXPECT_TRUE(book_.MarkStarted("qingpu.j3.1", "pid:7", kT0).stop_executor);

  Grant("qingpu.j4.1");
  book_.Commit("qingpu.j4.1", "qingpu", kT0);
  book_.MarkStarted("qingpu.j4.1", "pid:8", kT0);
  HoldOpResult r = book_.Cancel("qingpu.j4.1", "qingpu", kT0 + seconds(1));
  EXPECT_EQ(r.record->state, HoldState::kRunning);
  EXPECT_TRUE(r.record->cancel_requested);
  EXPECT_TRUE(r.stop_executor);
  HoldOpResult end =
      book_.MarkEnded("qingpu.j4.1", {HoldState::kCancelled, 137, "killed", kT0, kT0 + seconds(2)});
  EXPECT_EQ(end.record->state, HoldState::kCancelled);
  EXPECT_EQ(book_.Free("a100"), 8);
}

TEST_F(HoldBookTest, StartFailure) {
  Grant("qingpu.j1.1");
  book_.Commit("qingpu.j1.1", "qingpu", kT0);
  HoldOpResult f = book_.MarkStartFailed("qingpu.j1.1", "no such file", kT0);
  EXPECT_EQ(f.record->state, HoldState::kFailed);
  EXPECT_EQ(f.record->usage->message, "no such file");
  EXPECT_EQ(book_.Free("a100"), 8);
}

TEST_F(HoldBookTest, CapacityShrinkGrantsNothingUntilItClears) {
  Grant("qingpu.j1.1", 6);
  book_.SetCapacity("a100", 8, 4);  // Slurm users took 4
  EXPECT_TRUE(book_.Summary().at("a100").over_committed);
  EXPECT_EQ(book_.Free("a100"), 0);
  EXPECT_EQ(Grant("qingpu.j2.1", 1).rejection->reason, "too_few_free");
  EXPECT_TRUE(book_.CheckInvariants().ok());
  book_.SetCapacity("a100", 8, 1);
  EXPECT_FALSE(book_.Summary().at("a100").over_committed);
  EXPECT_EQ(Grant("qingpu.j2.1", 1).record->devices, (std::vector<int32_t>{6}));
}

TEST_F(HoldBookTest, SummaryCounts) {
  Grant("a.1", 1);
  Grant("a.2", 2);
  Grant("a.3", 3);
  book_.Commit("a.2", "qingpu", kT0);
  book_.Commit("a.3", "qingpu", kT0);
  book_.MarkStarted("a.3", "r", kT0);
  CapacitySummary s = book_.Summary().at("a100");
  EXPECT_EQ(s, (CapacitySummary{8, 0, 2, 1, 2, 3, false}));
}

TEST_F(HoldBookTest, RecoverExpiresHeldAndResumesCommitted) {
  Grant("qingpu.j1.1");
  Grant("qingpu.j2.1");
  book_.Commit("qingpu.j2.1", "qingpu", kT0);
  Grant("qingpu.j3.1");
  book_.Commit("qingpu.j3.1", "qingpu", kT0);
  book_.MarkStarted("qingpu.j3.1", "pid:3", kT0);
  std::vector<HoldRecord> stored;
  for (const auto& [id, r] : book_.holds()) {
    // Through the storage codec, as the driver does.
    auto parsed = HoldRecordFromJson(boost::json::parse(boost::json::serialize(ToJson(r))));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, r);
    stored.push_back(*parsed);
  }
  HoldBook restarted("wuhu");
  restarted.SetCapacity("a100", 8, 0);
  RecoverResult rec = restarted.Recover(stored, kT0 + minutes(1));
  ASSERT_EQ(rec.to_persist.size(), 1u);
  EXPECT_EQ(rec.to_persist[0].hold_id, "qingpu.j1.1");
  EXPECT_EQ(rec.to_persist[0].state, HoldState::kExpired);
  ASSERT_EQ(rec.to_resume.size(), 2u);
  EXPECT_EQ(rec.to_resume[0].hold_id, "qingpu.j2.1");
  EXPECT_EQ(rec.to_resume[1].executor_ref, "pid:3");
  EXPECT_EQ(restarted.Free("a100"), 4);
}

TEST_F(HoldBookTest, CheckInvariantsFindsADoubleBooking) {
  Grant("a.1", 2);
  Grant("a.2", 2);
  std::vector<HoldRecord> records;
  for (const auto& [id, r] : book_.holds()) records.push_back(r);
  records[1].devices = records[0].devices;
  HoldBook broken("wuhu");
  broken.Recover(records, kT0);
  EXPECT_EQ(broken.CheckInvariants().code(), core::Code::kInternal);
}

TEST(HoldCodecTest, RequestRoundTripAndStrictness) {
  HoldRequest q = Request("a.1");
  q.terms.price_cap = core::Money::Fen(5);
  auto parsed = HoldRequestFromJson(boost::json::parse(boost::json::serialize(ToJson(q))));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, q);
  boost::json::object o = ToJson(q);
  o["extra"] = 1;
  EXPECT_FALSE(HoldRequestFromJson(o).ok());
  o = ToJson(q);
  o["terms"].as_object()["count"] = 0;
  EXPECT_EQ(HoldRequestFromJson(o).status().field(), "terms.count");
}

}  // namespace
}  // namespace edwc::federation
