#include "federation/transfer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <random>

#include "federation/placement.h"

namespace edwc::federation {
namespace {

namespace json = boost::json;
using core::Money;
using std::chrono::milliseconds;

const core::Time kNow = core::Time(milliseconds(1'800'000'000'000));
constexpr int64_t kGb = 1'000'000'000;

// ---- Residency --------------------------------------------------------------------------

const ResidencyRule kPersonal{"personal-data-stays-in-yangtze", {}, {"personal"}, {"yangtze"}};
const ResidencyRule kEastZone{"east-stays-east", {"east"}, {}, {"east"}};
const ResidencyRule kEastMedical{"east-medical", {"east"}, {"medical"}, {"east", "north"}};

TEST(ResidencyTest, TagRuleNamesTheRule) {
  EXPECT_TRUE(CheckResidency({kPersonal}, "yangtze", {"public"}, "wuhu-west", "west").ok());
  EXPECT_TRUE(CheckResidency({kPersonal}, "yangtze", {"personal"}, "qingpu", "yangtze").ok());
  core::Status st = CheckResidency({kPersonal}, "yangtze", {"a", "personal"}, "wuhu-west", "west");
  EXPECT_EQ(st.code(), core::Code::kFailedPrecondition);
  EXPECT_EQ(st.field(), "residency");
  EXPECT_EQ(st.message(),
            "residency rule \"personal-data-stays-in-yangtze\" keeps datasets tagged [personal] "
            "in zones [yangtze]; center wuhu-west is in zone \"west\"");
  // A dataset without a zone is still held by tag rules.
  EXPECT_FALSE(CheckResidency({kPersonal}, "", {"personal"}, "wuhu-west", "west").ok());
}

TEST(ResidencyTest, ZoneRuleAppliesToItsZonesOnly) {
  EXPECT_TRUE(CheckResidency({kEastZone}, "north", {}, "zw", "west").ok());
  EXPECT_TRUE(CheckResidency({kEastZone}, "", {}, "zw", "west").ok());  // no zone: tags only
  EXPECT_TRUE(CheckResidency({kEastZone}, "east", {}, "nb", "east").ok());
  core::Status st = CheckResidency({kEastZone}, "east", {"x"}, "zw", "west");
  EXPECT_EQ(st.code(), core::Code::kFailedPrecondition);
  EXPECT_EQ(st.message(),
            "residency rule \"east-stays-east\" keeps datasets of zones [east] in zones [east]; "
            "center zw is in zone \"west\"");
}

TEST(ResidencyTest, ZoneAndTagRuleNeedsBoth) {
  EXPECT_TRUE(CheckResidency({kEastMedical}, "east", {"public"}, "zw", "west").ok());
  EXPECT_TRUE(CheckResidency({kEastMedical}, "west", {"medical"}, "zw", "west").ok());
  EXPECT_TRUE(CheckResidency({kEastMedical}, "east", {"medical"}, "tj", "north").ok());
  core::Status st = CheckResidency({kEastMedical}, "east", {"medical"}, "zw", "west");
  EXPECT_EQ(st.message(),
            "residency rule \"east-medical\" keeps datasets of zones [east] tagged [medical] in "
            "zones [east, north]; center zw is in zone \"west\"");
}

TEST(ResidencyTest, FirstRefusingRuleIsNamed) {
  const std::vector<ResidencyRule> rules = {kEastMedical, kEastZone, kPersonal};
  // east-medical allows north; east-stays-east does not.
  core::Status st = CheckResidency(rules, "east", {"medical"}, "tj", "north");
  EXPECT_NE(st.message().find("\"east-stays-east\""), std::string::npos) << st.message();
  EXPECT_TRUE(CheckResidency({}, "east", {"personal"}, "zw", "west").ok());
  const ResidencyRule everything{"nowhere", {}, {}, {}};
  EXPECT_EQ(CheckResidency({everything}, "", {}, "zw", "west").message(),
            "residency rule \"nowhere\" keeps all datasets in zones []; center zw is in zone "
            "\"west\"");
}

// ---- Planning ---------------------------------------------------------------------------

ViewEntry Center(std::string id, std::string zone = "east", int64_t egress_fen_per_gb = 50) {
  ViewEntry e;
  e.advert.center = id;
  e.advert.peer_url = "https://" + id + ":7443";
  e.advert.zone = std::move(zone);
  e.advert.egress_per_gb = Money::Fen(egress_fen_per_gb);
  e.last_heard = kNow;
  return e;
}

void Link(std::vector<ViewEntry>& view, std::string_view from, std::string to, int64_t mbps,
          int32_t rtt) {
  for (ViewEntry& e : view) {
    if (e.advert.center != from) continue;
    e.advert.links.push_back(LinkAdvert{std::move(to), mbps, rtt});
    std::sort(e.advert.links.begin(), e.advert.links.end(),
              [](const LinkAdvert& a, const LinkAdvert& b) { return a.center < b.center; });
  }
}

TransferPlanRequest Move(int64_t bytes) {
  TransferPlanRequest r;
  r.from = "src";
  r.to = "dst";
  r.bytes = bytes;
  r.chunk_size = 4 << 20;
  r.zone = "east";
  return r;
}

// src -> dst at 100 Mbit/s; src -> fast -> dst at 10 Gbit/s.
std::vector<ViewEntry> SlowDirectView() {
  std::vector<ViewEntry> view = {Center("src", "east", 50), Center("dst", "west", 80),
                                 Center("fast", "north", 30)};
  Link(view, "src", "dst", 100, 30);
  Link(view, "src", "fast", 10'000, 10);
  Link(view, "fast", "dst", 10'000, 10);
  return view;
}

TEST(PlanTransferTest, RelayChosenWhenDirectLinkIsSlow) {
  core::Result<TransferPlan> plan = PlanTransfer(Move(10 * kGb), SlowDirectView(), {});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->relay, "fast");
  ASSERT_EQ(plan->legs.size(), 2u);
  EXPECT_EQ(plan->legs[0],
            (TransferLeg{"src", "fast", "https://src:7443", 10'000, 10, false, Money::Fen(500)}));
  EXPECT_EQ(plan->legs[1],
            (TransferLeg{"fast", "dst", "https://fast:7443", 10'000, 10, false, Money::Fen(300)}));
  // 20 ms of rtt + 8 s over the slower leg + one 4 MiB chunk (3.36 ms, up) on the faster.
  EXPECT_EQ(plan->eta, milliseconds(20 + 8000 + 4));
  EXPECT_EQ(plan->egress, Money::Fen(800));  // both legs' senders charge
  EXPECT_EQ(plan->direct_eta, milliseconds(30 + 800'000));
  EXPECT_EQ(plan->direct_egress, Money::Fen(500));
}

TEST(PlanTransferTest, DirectKeptUnlessRelayTenPercentFaster) {
  std::vector<ViewEntry> view = {Center("src"), Center("dst"), Center("r")};
  Link(view, "src", "dst", 1000, 10);
  Link(view, "src", "r", 1100, 1);
  Link(view, "r", "dst", 1100, 1);
  core::Result<TransferPlan> plan = PlanTransfer(Move(10 * kGb), view, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->relay.has_value());  // 72761 ms vs 80010 ms: only 9% faster
  ASSERT_EQ(plan->legs.size(), 1u);
  EXPECT_EQ(plan->eta, milliseconds(80'010));
  EXPECT_EQ(plan->eta, plan->direct_eta);

  // With no bytes only round trips count: exactly 10% faster is enough, a little less not.
  view = {Center("src"), Center("dst"), Center("r")};
  Link(view, "src", "dst", 1000, 100);
  Link(view, "src", "r", 1000, 45);
  Link(view, "r", "dst", 1000, 45);
  EXPECT_EQ(PlanTransfer(Move(0), view, {})->relay, "r");
  view[2].advert.links[0].rtt_ms = 46;  // r -> dst
  EXPECT_FALSE(PlanTransfer(Move(0), view, {})->relay.has_value());
}

TEST(PlanTransferTest, DeadSuspectOrForbiddenRelaysAreNeverChosen) {
  std::vector<ViewEntry> view = SlowDirectView();
  view[2].liveness = Liveness::kDead;
  EXPECT_FALSE(PlanTransfer(Move(10 * kGb), view, {})->relay.has_value());
  view[2].liveness = Liveness::kSuspect;
  EXPECT_FALSE(PlanTransfer(Move(10 * kGb), view, {})->relay.has_value());

  // "fast" is in zone north; personal data may go east and west only.
  view = SlowDirectView();
  const ResidencyRule rule{"personal", {}, {"personal"}, {"east", "west"}};
  TransferPlanRequest r = Move(10 * kGb);
  r.tags = {"personal"};
  EXPECT_FALSE(PlanTransfer(r, view, {rule})->relay.has_value());
  // An allowed, slightly slower relay is taken instead.
  view.push_back(Center("ok-relay", "west", 10));
  Link(view, "src", "ok-relay", 5'000, 10);
  Link(view, "ok-relay", "dst", 5'000, 10);
  EXPECT_EQ(PlanTransfer(r, view, {rule})->relay, "ok-relay");
}

TEST(PlanTransferTest, MissingLinksUseTheReverseOrTheAssumedOne) {
  std::vector<ViewEntry> view = {Center("src"), Center("dst")};
  core::Result<TransferPlan> plan = PlanTransfer(Move(kGb), view, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->legs[0].assumed);
  EXPECT_EQ(plan->legs[0].bandwidth_mbps, kAssumedBandwidthMbps);
  EXPECT_EQ(plan->legs[0].rtt_ms, kAssumedRttMs);
  EXPECT_EQ(plan->eta, milliseconds(kAssumedRttMs + 80'000));
  Link(view, "dst", "src", 1000, 7);  // only the receiver advertises
  plan = PlanTransfer(Move(kGb), view, {});
  EXPECT_FALSE(plan->legs[0].assumed);
  EXPECT_EQ(plan->eta, milliseconds(7 + 8000));
  Link(view, "src", "dst", 2000, 3);  // the sender's own link wins
  EXPECT_EQ(PlanTransfer(Move(kGb), view, {})->eta, milliseconds(3 + 4000));
}

TEST(PlanTransferTest, TiesGoToTheLowestRelayIdWhateverTheViewOrder) {
  std::vector<ViewEntry> view = SlowDirectView();
  view[2].advert.center = "relay-b";
  view.push_back(view[2]);
  view.back().advert.center = "relay-a";
  for (LinkAdvert& l : view[0].advert.links) {  // src's link to the renamed relay
    if (l.center == "fast") l.center = "relay-b";
  }
  Link(view, "src", "relay-a", 10'000, 10);
  const TransferPlan first = *PlanTransfer(Move(10 * kGb), view, {});
  EXPECT_EQ(first.relay, "relay-a");
  view.back().liveness = Liveness::kDead;  // relay-b is exactly as fast
  EXPECT_EQ(PlanTransfer(Move(10 * kGb), view, {})->relay, "relay-b");
  EXPECT_EQ(PlanTransfer(Move(10 * kGb), view, {})->eta, first.eta);
  view.back().liveness = Liveness::kAlive;
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(view.begin(), view.end(), rng);
    EXPECT_EQ(*PlanTransfer(Move(10 * kGb), view, {}), first);
  }
}

TEST(PlanTransferTest, Errors) {
  std::vector<ViewEntry> view = SlowDirectView();
  TransferPlanRequest r = Move(kGb);
  r.from = "ghost";
  core::Result<TransferPlan> plan = PlanTransfer(r, view, {});
  EXPECT_EQ(plan.status().code(), core::Code::kUnavailable);
  EXPECT_NE(plan.status().message().find("ghost"), std::string::npos);
  view[1].liveness = Liveness::kDead;
  plan = PlanTransfer(Move(kGb), view, {});
  EXPECT_EQ(plan.status().code(), core::Code::kUnavailable);
  EXPECT_EQ(plan.status().message(), "center dst is dead");
  EXPECT_EQ(plan.status().field(), "to");
  // Residency of the destination is checked before anything else.
  const ResidencyRule rule{"east-only", {"east"}, {}, {"east"}};
  plan = PlanTransfer(Move(kGb), view, {rule});
  EXPECT_EQ(plan.status().code(), core::Code::kFailedPrecondition);
  EXPECT_EQ(plan.status().field(), "residency");
  r = Move(kGb);
  r.to = "src";
  EXPECT_EQ(PlanTransfer(r, view, {}).status().code(), core::Code::kInvalidArgument);
}

TEST(PlanTransferTest, JsonRoundTrip) {
  const TransferPlan plan = *PlanTransfer(Move(10 * kGb), SlowDirectView(), {});
  const json::object o = ToJson(plan);
  EXPECT_EQ(o.at("egress_cny").as_string(), "8.00");
  EXPECT_EQ(o.at("relay").as_string(), "fast");
  core::Result<TransferPlan> back = TransferPlanFromJson(o);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, plan);
  json::object bad = o;
  bad["egress_cny"] = "8.01";
  EXPECT_EQ(TransferPlanFromJson(bad).status().field(), "egress_cny");
  bad = o;
  bad["speed"] = 1;
  EXPECT_EQ(TransferPlanFromJson(bad).status().field(), "speed");
}

// ---- Receiver ---------------------------------------------------------------------------

core::DatasetManifest Manifest(int64_t size, int64_t chunk_size) {
  core::DatasetManifest m;
  m.name = "corpus.tar";
  m.size = size;
  m.chunk_size = chunk_size;
  m.chunk_sha256.assign(static_cast<size_t>(m.chunk_count()), std::string(64, 'a'));
  m.sha256 = std::string(64, 'b');
  m.zone = "east";
  m.tags = {"personal"};
  m.center = "src";
  m.created_at = kNow - milliseconds(60'000);
  return m;
}

TransferRecord Queued(int64_t size, int64_t chunk_size = 1024) {
  TransferRecord r;
  r.id = "t-1";
  r.dataset = "corpus.tar";
  r.manifest = Manifest(size, chunk_size);
  r.source_center = "src";
  r.dest_center = "dst";
  r.created_at = kNow;
  r.updated_at = kNow;
  r.requested_by = "broker-1";
  return r;
}

TEST(TransferReceiverTest, FetchesAtMostStreamsAndCompletes) {
  TransferReceiver rx;
  TransferStep step = rx.Start(Queued(10 * 1024 - 7), kNow);
  ASSERT_TRUE(step.status.ok()) << step.status.ToString();
  EXPECT_EQ(step.fetch, (std::vector<int64_t>{0, 1, 2, 3}));
  ASSERT_TRUE(step.record.has_value());
  EXPECT_EQ(step.record->state, TransferState::kMoving);
  EXPECT_EQ(step.record->started_at, kNow);
  std::vector<int64_t> pending = step.fetch;
  std::vector<int64_t> stored;
  core::Time t = kNow;
  while (!pending.empty()) {
    const int64_t chunk = pending.back();  // answers out of order
    pending.pop_back();
    t += milliseconds(10);
    step = rx.OnChunk(chunk, ChunkResult::Stored(), t);
    EXPECT_EQ(step.chunk_done, std::vector<ChunkDone>{ChunkDone{chunk}});
    stored.push_back(chunk);
    pending.insert(pending.end(), step.fetch.begin(), step.fetch.end());
    EXPECT_LE(rx.in_flight().size(), 4u);
    EXPECT_EQ(rx.in_flight().size(), pending.size());
    if (!pending.empty()) {
      EXPECT_FALSE(step.record.has_value());
    }
  }
  EXPECT_TRUE(step.finished);
  ASSERT_TRUE(step.record.has_value());
  EXPECT_EQ(step.record->state, TransferState::kDone);
  EXPECT_EQ(step.record->bytes_done, 10 * 1024 - 7);
  EXPECT_EQ(step.record->finished_at, t);
  std::sort(stored.begin(), stored.end());
  EXPECT_EQ(stored, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  // Late and duplicate answers change nothing.
  step = rx.OnChunk(3, ChunkResult::Stored(), t);
  EXPECT_TRUE(step.chunk_done.empty() && step.fetch.empty() && !step.record);
  EXPECT_EQ(rx.Progress(t).eta, milliseconds(0));
  // The whole-file check failed.
  step = rx.Fail("whole-file sha256 mismatch", t);
  EXPECT_EQ(step.record->state, TransferState::kFailed);
  EXPECT_EQ(step.record->error, "whole-file sha256 mismatch");
}

TEST(TransferReceiverTest, DuplicateStoredCountsOnce) {
  TransferReceiver rx;
  (void)rx.Start(Queued(4 * 1024), kNow);
  EXPECT_EQ(rx.OnChunk(0, ChunkResult::Stored(), kNow).chunk_done.size(), 1u);
  EXPECT_TRUE(rx.OnChunk(0, ChunkResult::Stored(), kNow).chunk_done.empty());
  EXPECT_TRUE(rx.OnChunk(0, ChunkResult::Corrupt("late"), kNow).fetch.empty());
  EXPECT_EQ(rx.record().bytes_done, 1024);
  EXPECT_EQ(rx.OnChunk(9, ChunkResult::Stored(), kNow).status.code(), core::Code::kInvalidArgument);
}

TEST(TransferReceiverTest, CorruptThreeTimesFailsNamingChunkOffsetAndSource) {
  TransferReceiver rx;
  (void)rx.Start(Queued(10 * 1024), kNow);
  TransferStep step = rx.OnChunk(2, ChunkResult::Corrupt("sha256 mismatch"), kNow);
  EXPECT_EQ(step.fetch, std::vector<int64_t>{2});  // retried at once
  step = rx.OnChunk(2, ChunkResult::Corrupt("sha256 mismatch"), kNow);
  EXPECT_EQ(step.fetch, std::vector<int64_t>{2});
  step = rx.OnChunk(2, ChunkResult::Corrupt("sha256 mismatch"), kNow);
  EXPECT_TRUE(step.fetch.empty());
  ASSERT_TRUE(step.record.has_value());
  EXPECT_EQ(step.record->state, TransferState::kFailed);
  EXPECT_EQ(step.record->error,
            "chunk 2 at byte offset 2048 failed verification 3 times (sha256 mismatch); its "
            "copy at src is corrupt");
  EXPECT_TRUE(rx.in_flight().empty());
  step = rx.OnChunk(0, ChunkResult::Stored(), kNow);
  EXPECT_TRUE(step.chunk_done.empty() && !step.record);
}

TEST(TransferReceiverTest, UnreachableBacksOffAndStaysMoving) {
  TransferReceiver rx;
  (void)rx.Start(Queued(2 * 1024), kNow);
  TransferStep step = rx.OnChunk(0, ChunkResult::Unreachable("connect refused"), kNow);
  EXPECT_TRUE(step.fetch.empty());
  EXPECT_FALSE(step.record.has_value());
  EXPECT_EQ(rx.NextDeadline(), kNow + milliseconds(200));
  EXPECT_TRUE(rx.Tick(kNow + milliseconds(199)).fetch.empty());
  EXPECT_EQ(rx.Tick(kNow + milliseconds(200)).fetch, std::vector<int64_t>{0});
  (void)rx.OnChunk(0, ChunkResult::Unreachable("timeout"), kNow + milliseconds(300));
  EXPECT_EQ(rx.NextDeadline(), kNow + milliseconds(700));  // doubled
  for (int i = 0; i < 10; ++i) {
    const core::Time t = *rx.NextDeadline();
    EXPECT_EQ(rx.Tick(t).fetch, std::vector<int64_t>{0});
    (void)rx.OnChunk(0, ChunkResult::Unreachable("timeout"), t);
  }
  const core::Time t = *rx.NextDeadline();
  EXPECT_EQ(rx.Tick(t).fetch, std::vector<int64_t>{0});
  (void)rx.OnChunk(0, ChunkResult::Unreachable("timeout"), t);
  EXPECT_EQ(*rx.NextDeadline() - t, milliseconds(10'000));  // capped
  EXPECT_EQ(rx.record().state, TransferState::kMoving);
}

TEST(TransferReceiverTest, RecoverRefetchesOnlyMissingChunks) {
  TransferReceiver rx;
  TransferStep step = rx.Start(Queued(8 * 1024 - 1), kNow);
  const TransferRecord persisted = *step.record;
  std::vector<int64_t> events;
  for (int64_t c : {0, 1, 3}) {
    for (const ChunkDone& d : rx.OnChunk(c, ChunkResult::Stored(), kNow).chunk_done) {
      events.push_back(d.index);
    }
  }
  events.push_back(1);  // a duplicate event is harmless
  // Crash: the in-memory machine is gone.
  TransferReceiver again;
  step = again.Recover(persisted, events, kNow + milliseconds(5000));
  ASSERT_TRUE(step.status.ok()) << step.status.ToString();
  EXPECT_FALSE(step.record.has_value());  // still moving: nothing new to persist
  EXPECT_EQ(step.fetch, (std::vector<int64_t>{2, 4, 5, 6}));
  EXPECT_EQ(again.record().bytes_done, 3 * 1024);
  for (int64_t c : {2, 4, 5, 6, 7}) {
    step = again.OnChunk(c, ChunkResult::Stored(), kNow + milliseconds(6000));
    for (int64_t f : step.fetch) EXPECT_EQ(f, 7);
  }
  EXPECT_TRUE(step.finished);
  EXPECT_EQ(again.record().bytes_done, 8 * 1024 - 1);

  TransferReceiver bad;
  EXPECT_EQ(bad.Recover(persisted, {8}, kNow).status.code(), core::Code::kCorruption);
}

TEST(TransferReceiverTest, RecoverOfAllChunksFinishesAndOfTerminalDoesNothing) {
  TransferReceiver rx;
  const TransferRecord moving = *rx.Start(Queued(2 * 1024), kNow).record;
  TransferReceiver again;
  TransferStep step = again.Recover(moving, {0, 1}, kNow);
  EXPECT_TRUE(step.finished);
  EXPECT_EQ(step.record->state, TransferState::kDone);
  TransferReceiver third;
  step = third.Recover(*step.record, {}, kNow);
  EXPECT_TRUE(step.status.ok());
  EXPECT_TRUE(step.fetch.empty() && !step.record && !step.finished);
}

TEST(TransferReceiverTest, CancelStopsEverything) {
  TransferReceiver rx;
  (void)rx.Start(Queued(10 * 1024), kNow);
  (void)rx.OnChunk(1, ChunkResult::Unreachable("x"), kNow);
  TransferStep step = rx.Cancel(kNow + milliseconds(1));
  ASSERT_TRUE(step.record.has_value());
  EXPECT_EQ(step.record->state, TransferState::kCancelled);
  EXPECT_TRUE(step.fetch.empty());
  EXPECT_TRUE(rx.in_flight().empty());
  EXPECT_FALSE(rx.NextDeadline().has_value());
  EXPECT_TRUE(rx.Tick(kNow + milliseconds(10'000)).fetch.empty());
  step = rx.OnChunk(0, ChunkResult::Stored(), kNow);
  EXPECT_TRUE(step.chunk_done.empty() && step.fetch.empty() && !step.record);
  EXPECT_FALSE(rx.Cancel(kNow).record.has_value());
  EXPECT_FALSE(rx.Fail("late", kNow).record.has_value());
}

TEST(TransferReceiverTest, StartChecksItsInput) {
  TransferReceiver rx;
  TransferRecord r = Queued(1024);
  r.state = TransferState::kMoving;
  EXPECT_EQ(rx.Start(r, kNow).status.code(), core::Code::kFailedPrecondition);
  r = Queued(1024);
  r.chunk_done = {true, false};
  EXPECT_EQ(rx.Start(r, kNow).status.field(), "chunk_done");
  EXPECT_FALSE(rx.started());
  TransferStep step = rx.Start(Queued(0), kNow);  // an empty dataset is done at once
  EXPECT_TRUE(step.finished);
  EXPECT_EQ(step.record->state, TransferState::kDone);
}

TEST(TransferReceiverTest, RecordStreamsOverrideOptions) {
  TransferReceiver rx(TransferOptions{.streams = 2});
  EXPECT_EQ(rx.Start(Queued(10 * 1024), kNow).fetch.size(), 2u);
  TransferReceiver wide(TransferOptions{.streams = 2});
  TransferRecord r = Queued(10 * 1024);
  r.streams = 6;
  EXPECT_EQ(wide.Start(r, kNow).fetch.size(), 6u);
}

TEST(TransferReceiverTest, ProgressRateOverTheWindow) {
  TransferReceiver rx;
  (void)rx.Start(Queued(100 * 1024), kNow);
  EXPECT_FALSE(rx.Progress(kNow).eta.has_value());
  // 4 chunks in the first second: 4096 B/s; 96 KiB left at that rate is 24 s.
  for (int64_t c = 0; c < 4; ++c) (void)rx.OnChunk(c, ChunkResult::Stored(), kNow);
  TransferProgress p = rx.Progress(kNow + milliseconds(1000));
  EXPECT_EQ(p.bytes_done, 4096);
  EXPECT_EQ(p.total, 100 * 1024);
  EXPECT_EQ(p.rate_bytes_per_s, 4096);
  EXPECT_EQ(p.eta, milliseconds(24'000));
  // Past the window with nothing new: unknown again.
  p = rx.Progress(kNow + milliseconds(5000));
  EXPECT_EQ(p.rate_bytes_per_s, 0);
  EXPECT_FALSE(p.eta.has_value());
}

// ---- Record JSON ------------------------------------------------------------------------

TEST(TransferRecordTest, JsonRoundTrip) {
  TransferRecord r = Queued(10 * 65536 - 100, 65536);
  r.plan = *PlanTransfer(Move(r.manifest.size), SlowDirectView(), {});
  r.state = TransferState::kMoving;
  r.chunk_done = {true, true, false, true, false, false, true, true, true, true};
  r.bytes_done = 7 * 65536 - 100;
  r.started_at = kNow;
  r.updated_at = kNow + milliseconds(5);
  r.streams = 4;
  r.idempotency_key = "k-1";
  r.version = 3;
  const json::object o = ToJson(r);
  EXPECT_EQ(json::serialize(o.at("chunks_done")), "[[0,2],[3,4],[6,10]]");
  core::Result<TransferRecord> back = TransferRecordFromJson(json::parse(json::serialize(o)));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, r);

  json::object bad = o;
  bad["bytes_done"] = 5;
  EXPECT_EQ(TransferRecordFromJson(bad).status().field(), "bytes_done");
  bad = o;
  bad["chunks_done"] = json::array{json::array{0, 2}, json::array{2, 4}};  // adjacent
  EXPECT_EQ(TransferRecordFromJson(bad).status().field(), "chunks_done[1]");
  bad = o;
  bad["chunks_done"] = json::array{json::array{0, 11}};
  EXPECT_EQ(TransferRecordFromJson(bad).status().field(), "chunks_done[0]");
  bad = o;
  bad["colour"] = "red";
  EXPECT_EQ(TransferRecordFromJson(bad).status().field(), "colour");
  bad = o;
  bad["manifest"].as_object()["chunk_sha256"].as_array().pop_back();
  EXPECT_EQ(TransferRecordFromJson(bad).status().field(), "manifest.chunk_sha256");
  bad = o;
  bad["plan"].as_object()["legs"].as_array()[1].as_object()["rtt_ms"] = -1;
  EXPECT_EQ(TransferRecordFromJson(bad).status().field(), "plan.legs[1].rtt_ms");
  bad = o;
  bad["state"] = "paused";
  EXPECT_EQ(TransferRecordFromJson(bad).status().field(), "state");
}

}  // namespace
}  // namespace edwc::federation
