// Unit tests of the routing center's JobRouter (federation/job_router.h).
#include "federation/job_router.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>

namespace edwc::federation {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const core::Time kT0 = core::Time(milliseconds(1'800'000'000'000));

Candidate At(std::string center) {
  return Candidate{center,
                   "https://" + center + ".example:8443",
                   "a100",
                   2,
                   core::Money::Fen(500),
                   kT0,
                   kT0 + seconds(60),
                   "cheapest"};
}

HoldRecord Remote(std::string hold_id, HoldState state) {
  HoldRecord r;
  r.hold_id = std::move(hold_id);
  r.job_id = "job1";
  r.router = "qingpu";
  r.terms.model = "a100";
  r.terms.count = 2;
  r.state = state;
  r.devices = {0, 1};
  r.firm.estimated_total = core::Money::Fen(480);
  r.granted_at = kT0;
  r.expires_at = kT0 + seconds(30);
  if (state != HoldState::kHeld) r.committed_at = kT0;
  if (state != HoldState::kHeld && state != HoldState::kCommitted) r.started_at = kT0;
  if (IsTerminal(state)) {
    r.ended_at = kT0 + seconds(60);
    r.usage = HoldUsage{kT0, kT0 + seconds(60), 120000, 0, "", core::Money::Fen(40)};
  }
  return r;
}

class JobRouterTest : public ::testing::Test {
 protected:
  JobRouterTest() : router_(Options()) {}
  static RouterOptions Options() {
    RouterOptions o;
    o.self_center = "qingpu";
    o.poll_every = seconds(5);
    o.retry_initial = milliseconds(500);
    o.retry_max = seconds(4);
    return o;
  }
  RouterResult Submit(std::vector<Candidate> candidates) {
    return router_.Submit("job1", "key-1", "broker", R"({"model":"a100","count":2})",
                          JobSpec{seconds(60), core::Money::Fen(1000), {"run"}, {}},
                          std::move(candidates), seconds(30), kT0);
  }
  JobRouter router_;
};

TEST_F(JobRouterTest, SubmitPersistsTheAttemptThenSendsTheHold) {
  RouterResult r = Submit({At("wuhu"), At("tianfu")});
  ASSERT_TRUE(r.status.ok());
  ASSERT_EQ(r.to_persist.size(), 1u);
  EXPECT_EQ(r.to_persist[0].state, JobState::kPlacing);
  ASSERT_EQ(r.to_persist[0].attempts.size(), 1u);
  EXPECT_EQ(r.to_persist[0].attempts[0].hold_id, "qingpu.job1.1");
  ASSERT_EQ(r.to_send.size(), 1u);
  const Outbound& m = r.to_send[0];
  EXPECT_EQ(m.kind, Outbound::Kind::kHold);
  EXPECT_EQ(m.center, "wuhu");
  auto q = HoldRequestFromJson(boost::json::parse(m.body));
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->hold_id, "qingpu.job1.1");
  EXPECT_EQ(q->terms.count, 2);
  EXPECT_EQ(q->terms.price_cap, core::Money::Fen(1000));
  EXPECT_EQ(q->ttl, seconds(30));
}

TEST_F(JobRouterTest, FallsBackAndFailsWithEveryReason) {
  Submit({At("wuhu"), At("tianfu")});
  RouterResult a = router_.OnHoldAnswer("qingpu.job1.1", PeerAnswer::Rejected("too_few_free"), kT0);
  ASSERT_EQ(a.to_send.size(), 1u);
  EXPECT_EQ(a.to_send[0].center, "tianfu");
  EXPECT_EQ(a.to_send[0].hold_id, "qingpu.job1.2");
  ASSERT_EQ(a.to_persist.size(), 1u);
  EXPECT_EQ(a.to_persist[0].attempts.size(), 2u);
  RouterResult b = router_.OnHoldAnswer("qingpu.job1.2", PeerAnswer::Unreachable("timeout"), kT0);
  EXPECT_TRUE(b.to_send.empty());
  EXPECT_EQ(b.job->state, JobState::kFailed);
  EXPECT_EQ(b.job->failure_reason,
            "no center accepted: wuhu: too_few_free; tianfu: unreachable: timeout");
  // Terminal is absorbing: a late answer changes nothing.
  RouterResult late = router_.OnHoldAnswer(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  EXPECT_TRUE(late.to_persist.empty());
  ASSERT_EQ(late.to_send.size(), 1u);  // the stray grant is released
  EXPECT_EQ(late.to_send[0].kind, Outbound::Kind::kRelease);
  EXPECT_EQ(router_.Get("job1")->state, JobState::kFailed);
}

TEST_F(JobRouterTest, GrantCommitRunSucceed) {
  Submit({At("wuhu")});
  RouterResult g = router_.OnHoldAnswer(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  EXPECT_EQ(g.job->state, JobState::kHeld);
  ASSERT_EQ(g.to_send.size(), 1u);
  EXPECT_EQ(g.to_send[0].kind, Outbound::Kind::kCommit);
  EXPECT_EQ(g.to_persist.size(), 1u);
  // Ambiguous commit: re-sent with the same id on the retry schedule.
  router_.OnCommitAnswer("qingpu.job1.1", PeerAnswer::Unreachable("reset"), kT0);
  EXPECT_TRUE(router_.Tick(kT0 + milliseconds(499)).to_send.empty());
  RouterResult retry = router_.Tick(kT0 + milliseconds(500));
  ASSERT_EQ(retry.to_send.size(), 1u);
  EXPECT_EQ(retry.to_send[0].kind, Outbound::Kind::kCommit);
  EXPECT_EQ(retry.to_send[0].hold_id, "qingpu.job1.1");
  EXPECT_EQ(router_.NextDeadline(), kT0 + milliseconds(1500));  // backoff doubled
  RouterResult c = router_.OnCommitAnswer(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kCommitted)), kT0);
  EXPECT_EQ(c.job->state, JobState::kCommitted);
  EXPECT_EQ(c.job->ran_on, "wuhu");
  EXPECT_EQ(c.to_persist.size(), 1u);
  // Polls status every poll_every.
  RouterResult poll = router_.Tick(kT0 + seconds(5));
  ASSERT_EQ(poll.to_send.size(), 1u);
  EXPECT_EQ(poll.to_send[0].kind, Outbound::Kind::kStatus);
  RouterResult same = router_.OnStatus(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kCommitted)), kT0);
  EXPECT_TRUE(same.to_persist.empty());  // nothing changed
  RouterResult done = router_.OnStatus(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kSucceeded)),
      kT0 + seconds(61));
  EXPECT_EQ(done.job->state, JobState::kSucceeded);
  ASSERT_TRUE(done.job->usage);
  EXPECT_EQ(done.job->usage->cost, core::Money::Fen(40));
  EXPECT_TRUE(done.job->running_at.has_value());
  EXPECT_FALSE(router_.NextDeadline());
  EXPECT_TRUE(router_
                  .OnStatus("qingpu.job1.1",
                            PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kFailed)), kT0)
                  .to_persist.empty());
}

TEST_F(JobRouterTest, LongJobsArePolledLessOften) {
  Submit({At("wuhu")});
  router_.OnHoldAnswer("qingpu.job1.1",
                       PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  router_.OnCommitAnswer("qingpu.job1.1",
                         PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kRunning)), kT0);
  // Fresh: every poll_every (5 s).
  ASSERT_EQ(router_.Tick(kT0 + seconds(5)).to_send.size(), 1u);
  EXPECT_EQ(router_.NextDeadline(), kT0 + seconds(10));
  // Committed 200 s ago: a tenth of that (20 s).
  ASSERT_EQ(router_.Tick(kT0 + seconds(200)).to_send.size(), 1u);
  EXPECT_EQ(router_.NextDeadline(), kT0 + seconds(220));
  // Committed an hour ago: capped at poll_max (60 s).
  ASSERT_EQ(router_.Tick(kT0 + seconds(3600)).to_send.size(), 1u);
  EXPECT_EQ(router_.NextDeadline(), kT0 + seconds(3660));
}

TEST_F(JobRouterTest, ExpiredHoldAtCommitMovesOn) {
  Submit({At("wuhu"), At("tianfu")});
  router_.OnHoldAnswer("qingpu.job1.1",
                       PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  RouterResult r =
      router_.OnCommitAnswer("qingpu.job1.1", PeerAnswer::Refused("hold expired"), kT0);
  EXPECT_EQ(r.job->state, JobState::kPlacing);
  ASSERT_EQ(r.to_send.size(), 1u);
  EXPECT_EQ(r.to_send[0].hold_id, "qingpu.job1.2");
  EXPECT_EQ(r.job->attempts[0].outcome, "hold expired");
  // A hold answer that is an expired record (the same id retried too late) too.
  RouterResult e = router_.OnHoldAnswer(
      "qingpu.job1.2", PeerAnswer::Record(Remote("qingpu.job1.2", HoldState::kExpired)), kT0);
  EXPECT_EQ(e.job->state, JobState::kFailed);
}

TEST_F(JobRouterTest, CancelWhilePlacingReleasesAndEnds) {
  Submit({At("wuhu")});
  RouterResult c = router_.Cancel("job1", kT0);
  EXPECT_EQ(c.job->state, JobState::kCancelled);
  ASSERT_EQ(c.to_send.size(), 1u);
  EXPECT_EQ(c.to_send[0].kind, Outbound::Kind::kRelease);
  RouterResult late = router_.OnHoldAnswer(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  ASSERT_EQ(late.to_send.size(), 1u);
  EXPECT_EQ(late.to_send[0].kind, Outbound::Kind::kRelease);
  EXPECT_EQ(router_.Cancel("job1", kT0).to_persist.size(), 0u);
}

TEST_F(JobRouterTest, CancelWhileRunningWaitsForTheTarget) {
  Submit({At("wuhu")});
  router_.OnHoldAnswer("qingpu.job1.1",
                       PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  router_.OnCommitAnswer("qingpu.job1.1",
                         PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kRunning)), kT0);
  EXPECT_EQ(router_.Get("job1")->state, JobState::kRunning);
  RouterResult c = router_.Cancel("job1", kT0);
  EXPECT_EQ(c.job->state, JobState::kRunning);
  EXPECT_TRUE(c.job->cancel_requested);
  ASSERT_EQ(c.to_send.size(), 1u);
  EXPECT_EQ(c.to_send[0].kind, Outbound::Kind::kCancel);
  RouterResult again = router_.Tick(kT0 + seconds(1));
  ASSERT_EQ(again.to_send.size(), 1u);
  EXPECT_EQ(again.to_send[0].kind, Outbound::Kind::kCancel);
  RouterResult end = router_.OnCancelAnswer(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kCancelled)), kT0);
  EXPECT_EQ(end.job->state, JobState::kCancelled);
}

TEST_F(JobRouterTest, CancelWhileHeldEndsWhenTheTargetReleased) {
  Submit({At("wuhu"), At("tianfu")});
  router_.OnHoldAnswer("qingpu.job1.1",
                       PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  RouterResult c = router_.Cancel("job1", kT0);
  EXPECT_EQ(c.job->state, JobState::kHeld);
  RouterResult r = router_.OnCancelAnswer(
      "qingpu.job1.1", PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kReleased)), kT0);
  EXPECT_EQ(r.job->state, JobState::kCancelled);
  EXPECT_TRUE(r.to_send.empty());  // no next candidate
}

TEST_F(JobRouterTest, RecoverResendsWhatWasInFlight) {
  Submit({At("wuhu")});
  std::vector<JobRecord> stored;
  for (const auto& [id, j] : router_.jobs()) {
    auto parsed = JobRecordFromJson(boost::json::parse(boost::json::serialize(ToJson(j))));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(*parsed, j);
    stored.push_back(*parsed);
  }
  JobRouter restarted(Options());
  RouterResult r = restarted.Recover(stored, kT0 + seconds(1));
  ASSERT_EQ(r.to_send.size(), 1u);
  EXPECT_EQ(r.to_send[0].kind, Outbound::Kind::kHold);
  EXPECT_EQ(r.to_send[0].hold_id, "qingpu.job1.1");  // the same id: idempotent at the target
  restarted.OnHoldAnswer("qingpu.job1.1",
                         PeerAnswer::Record(Remote("qingpu.job1.1", HoldState::kHeld)), kT0);
  stored = {*restarted.Get("job1")};
  JobRouter again(Options());
  RouterResult r2 = again.Recover(stored, kT0);
  ASSERT_EQ(r2.to_send.size(), 1u);
  EXPECT_EQ(r2.to_send[0].kind, Outbound::Kind::kCommit);
}

TEST_F(JobRouterTest, NoCandidatesFailsAtOnce) {
  RouterResult r = Submit({});
  EXPECT_EQ(r.job->state, JobState::kFailed);
  EXPECT_EQ(r.job->failure_reason, "no center accepted: no candidates");
}

TEST_F(JobRouterTest, ResubmitComparesRequests) {
  Submit({At("wuhu")});
  EXPECT_TRUE(router_.Resubmit("job1", R"({"model":"a100","count":2})").status.ok());
  EXPECT_TRUE(router_.Resubmit("job1", R"({"count":2,"model":"a100"})").status.ok());
  RouterResult c = router_.Resubmit("job1", R"({"model":"a100","count":3})");
  EXPECT_EQ(c.status.code(), core::Code::kConflict);
  EXPECT_EQ(c.status.field(), "count");
  EXPECT_EQ(router_.Resubmit("job1", R"({"model":"a100","count":2,"x":1})").status.field(), "x");
  EXPECT_EQ(router_.Resubmit("job1", R"({"model":"h800","count":2})").status.field(), "model");
}

}  // namespace
}  // namespace edwc::federation
