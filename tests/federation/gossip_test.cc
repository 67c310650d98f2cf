#include "federation/gossip.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <set>

#include "tests/federation/fake_crypto.h"

namespace edwc::federation {
namespace {

namespace json = boost::json;
using testing::FakeSigner;
using testing::FakeVerifier;

const core::Time kT0 = core::Time(core::Duration(1'800'000'000'000));
constexpr core::Duration kMs(1);

std::string UrlOf(const std::string& center) { return "https://" + center + ":7443"; }

// A signed advert; `url` false leaves peer_url empty so that the center is not a peer.
CapacityAdvert Advert(const std::string& center, uint64_t epoch, uint64_t seq,
                      core::Time issued = kT0, bool url = true) {
  CapacityAdvert a;
  a.center = center;
  a.peer_url = url ? UrlOf(center) : "";
  a.epoch = epoch;
  a.seq = seq;
  a.issued_at = issued;
  a.ttl = core::Duration(15000);
  ModelCapacityAdvert m;
  m.model = "h800";
  m.total = 8;
  m.free = 4;
  m.price.base_per_device_hour = core::Money::Fen(2000);
  a.models.push_back(m);
  EXPECT_TRUE(SignAdvert(FakeSigner(center), a).ok());
  return a;
}

GossipMessage Push(std::vector<CapacityAdvert> adverts) {
  GossipMessage m;
  m.kind = GossipMessage::Kind::kPush;
  m.adverts = std::move(adverts);
  return m;
}

// "b:1.2:alive c:1.1:suspect" for comparing views.
std::string Summary(const std::vector<ViewEntry>& view) {
  std::string s;
  for (const ViewEntry& e : view) {
    s += e.advert.center + ":" + std::to_string(e.advert.epoch) + "." +
         std::to_string(e.advert.seq) + ":" + std::string(LivenessName(e.liveness)) + " ";
  }
  return s;
}

uint64_t Rejected(const Gossip& g, RejectReason r) {
  return g.counters().rejected[static_cast<size_t>(r)];
}

class GossipTest : public ::testing::Test {
 protected:
  FakeVerifier verifier_;
  GossipOptions options_;
};

TEST_F(GossipTest, SelfIsInTheViewAndAlwaysAlive) {
  Gossip g("a", options_, &verifier_, 1);
  std::vector<ViewEntry> view = g.View(kT0);
  ASSERT_EQ(view.size(), 1u);
  EXPECT_TRUE(view[0].self);
  EXPECT_EQ(view[0].advert.center, "a");
  EXPECT_TRUE(g.LocalAdvertDue(kT0));
  EXPECT_TRUE(g.SetLocalAdvert(Advert("a", 1, 1), kT0).empty());  // no peers yet
  EXPECT_FALSE(g.LocalAdvertDue(kT0 + options_.refresh_every - kMs));
  EXPECT_TRUE(g.LocalAdvertDue(kT0 + options_.refresh_every));
  // Long past its own advert's expiry, self is still alive.
  EXPECT_EQ(g.LivenessOf("a", kT0 + core::Duration(3'600'000)), Liveness::kAlive);
}

TEST_F(GossipTest, NewestWinsAndEqualIsADuplicate) {
  Gossip g("a", options_, &verifier_, 1);
  g.Receive("b", Push({Advert("b", 1, 1)}), kT0);
  EXPECT_EQ(g.counters().accepted, 1u);
  const uint64_t v1 = g.version();
  g.Receive("c", Push({Advert("b", 1, 3)}), kT0);
  EXPECT_EQ(g.FindAdvert("b")->seq, 3u);
  EXPECT_GT(g.version(), v1);
  g.Receive("c", Push({Advert("b", 1, 3)}), kT0);
  EXPECT_EQ(g.counters().duplicates, 1u);
  EXPECT_EQ(Rejected(g, RejectReason::kStale), 0u);
  g.Receive("c", Push({Advert("b", 2, 1)}), kT0);  // a restart: new epoch, low seq
  EXPECT_EQ(g.FindAdvert("b")->epoch, 2u);
  EXPECT_EQ(g.FindAdvert("b")->seq, 1u);
  EXPECT_EQ(g.counters().accepted, 3u);
}

struct BadAdvert {
  const char* name;
  RejectReason reason;
  std::function<CapacityAdvert(FakeVerifier&)> make;
};

TEST_F(GossipTest, BadAdvertsAreRejectedCountedAndChangeNothing) {
  const std::vector<BadAdvert> cases = {
      {"forged: another center's certificate", RejectReason::kForged,
       [](FakeVerifier&) {
         CapacityAdvert a = Advert("b", 1, 9);
         EXPECT_TRUE(SignAdvert(FakeSigner("mallory"), a).ok());
         return a;
       }},
      {"tampered: price lowered after signing", RejectReason::kTampered,
       [](FakeVerifier&) {
         CapacityAdvert a = Advert("b", 1, 9);
         a.models[0].price.base_per_device_hour = core::Money::Fen(1);
         return a;
       }},
      {"tampered: unsigned", RejectReason::kTampered,
       [](FakeVerifier&) {
         CapacityAdvert a = Advert("b", 1, 9);
         a.signature.clear();
         return a;
       }},
      {"expired at receipt", RejectReason::kExpired,
       [](FakeVerifier&) { return Advert("b", 1, 9, kT0 - core::Duration(15000)); }},
      {"issued too far ahead", RejectReason::kMalformed,
       [](FakeVerifier&) { return Advert("b", 1, 9, kT0 + core::Duration(30001)); }},
      {"out of range", RejectReason::kMalformed,
       [](FakeVerifier&) {
         CapacityAdvert a = Advert("b", 1, 9);
         a.models[0].free = 9;
         EXPECT_TRUE(SignAdvert(FakeSigner("b"), a).ok());
         return a;
       }},
      {"stale: older seq", RejectReason::kStale, [](FakeVerifier&) { return Advert("b", 1, 4); }},
      {"replayed: older epoch", RejectReason::kStale,
       [](FakeVerifier&) { return Advert("b", 0, 99); }},
      {"same version, other content", RejectReason::kStale,
       [](FakeVerifier&) {
         CapacityAdvert a = Advert("b", 1, 5);
         a.city = "elsewhere";
         EXPECT_TRUE(SignAdvert(FakeSigner("b"), a).ok());
         return a;
       }},
      {"revoked", RejectReason::kRevoked,
       [](FakeVerifier& v) {
         v.revoked.insert("b");
         return Advert("b", 1, 9);
       }},
      {"self from another center", RejectReason::kForged,
       [](FakeVerifier&) { return Advert("a", 1, 2); }},
      {"self, older", RejectReason::kStale, [](FakeVerifier&) { return Advert("a", 0, 7); }},
  };
  for (const BadAdvert& c : cases) {
    FakeVerifier verifier;
    Gossip g("a", options_, &verifier, 1);
    g.SetLocalAdvert(Advert("a", 1, 1), kT0);
    g.Receive("b", Push({Advert("b", 1, 5)}), kT0);
    const std::string before = Summary(g.View(kT0));
    const CapacityAdvert held = *g.FindAdvert("b");
    const uint64_t version = g.version();
    const GossipCounters counters = g.counters();

    g.Receive("c", Push({c.make(verifier)}), kT0);

    EXPECT_EQ(Rejected(g, c.reason), counters.rejected[static_cast<size_t>(c.reason)] + 1)
        << c.name;
    uint64_t total_rejected = 0;
    for (uint64_t n : g.counters().rejected) total_rejected += n;
    EXPECT_EQ(total_rejected, 1u) << c.name;
    EXPECT_EQ(g.counters().accepted, counters.accepted) << c.name;
    EXPECT_EQ(g.version(), version) << c.name;
    EXPECT_EQ(Summary(g.View(kT0)), before) << c.name;
    EXPECT_EQ(*g.FindAdvert("b"), held) << c.name;
  }
}

TEST_F(GossipTest, OwnAdvertIdenticalIsADuplicate) {
  Gossip g("a", options_, &verifier_, 1);
  g.SetLocalAdvert(Advert("a", 1, 1), kT0);
  g.Receive("b", Push({Advert("a", 1, 1)}), kT0);
  EXPECT_EQ(g.counters().duplicates, 1u);
}

TEST_F(GossipTest, DigestExchangeTransfersWhatIsMissingBothWays) {
  Gossip a("a", options_, &verifier_, 1);
  Gossip b("b", options_, &verifier_, 2);
  a.SetLocalAdvert(Advert("a", 1, 1), kT0);
  b.SetLocalAdvert(Advert("b", 1, 1), kT0);
  // a knows b (its only peer), a newer x, and y; b knows an older x and z.
  a.Receive("b",
            Push({Advert("b", 1, 1), Advert("x", 1, 2, kT0, false), Advert("y", 1, 1, kT0, false)}),
            kT0);
  b.Receive("x", Push({Advert("x", 1, 1, kT0, false), Advert("z", 1, 1, kT0, false)}), kT0);

  const core::Time later = kT0 + core::Duration(1000);  // news has aged out
  std::vector<GossipOutbound> out = a.Tick(later);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to_center, "b");
  EXPECT_EQ(out[0].to_url, UrlOf("b"));
  ASSERT_EQ(out[0].message.kind, GossipMessage::Kind::kDigest);

  const GossipMessage reply = b.Receive("a", out[0].message, later);
  ASSERT_EQ(reply.kind, GossipMessage::Kind::kDigestReply);
  ASSERT_EQ(reply.adverts.size(), 1u);
  EXPECT_EQ(reply.adverts[0].center, "z");
  EXPECT_EQ(reply.digest, (std::vector<DigestEntry>{{"a", 1, 1}, {"x", 1, 2}, {"y", 1, 1}}));

  std::vector<GossipOutbound> follow = a.ReplyReceived(out[0], "b", reply, later);
  ASSERT_EQ(follow.size(), 1u);
  EXPECT_EQ(follow[0].to_center, "b");
  EXPECT_EQ(follow[0].message.kind, GossipMessage::Kind::kPush);
  EXPECT_EQ(b.Receive("a", follow[0].message, later).kind, GossipMessage::Kind::kAck);

  EXPECT_EQ(Summary(a.View(later)), "a:1.1:alive b:1.1:alive x:1.2:alive y:1.1:alive z:1.1:alive ");
  EXPECT_EQ(Summary(b.View(later)), Summary(a.View(later)));
}

TEST_F(GossipTest, LivenessAliveSuspectDeadAndBackOnANewEpoch) {
  Gossip g("a", options_, &verifier_, 1);
  g.Receive("b", Push({Advert("b", 1, 1)}), kT0);
  const GossipOutbound to_b{"b", UrlOf("b"), Push({})};
  EXPECT_EQ(g.LivenessOf("b", kT0), Liveness::kAlive);
  g.SendFailed(to_b, kT0);
  EXPECT_EQ(g.LivenessOf("b", kT0), Liveness::kAlive);
  const uint64_t v = g.version();
  g.SendFailed(to_b, kT0);
  EXPECT_EQ(g.LivenessOf("b", kT0), Liveness::kSuspect);
  EXPECT_GT(g.version(), v);
  g.SendFailed(to_b, kT0);
  g.SendFailed(to_b, kT0);
  // Unexpired advert: failures alone make it suspect, never dead.
  EXPECT_EQ(g.LivenessOf("b", kT0 + 14999 * kMs), Liveness::kSuspect);
  EXPECT_EQ(g.LivenessOf("b", kT0 + 15000 * kMs), Liveness::kDead);
  g.Tick(kT0 + 15000 * kMs);
  EXPECT_EQ(g.View(kT0 + 15000 * kMs)[1].liveness, Liveness::kDead);
  EXPECT_EQ(g.View(kT0 + 15000 * kMs)[1].consecutive_failures, 4);

  const core::Time restart = kT0 + core::Duration(20000);
  g.Receive("c", Push({Advert("b", 2, 1, restart)}), restart);
  EXPECT_EQ(g.LivenessOf("b", restart), Liveness::kAlive);
}

TEST_F(GossipTest, DeadAfterExpiryWithoutFailures) {
  Gossip g("a", options_, &verifier_, 1);
  g.Receive("b", Push({Advert("b", 1, 1)}), kT0);
  EXPECT_EQ(g.LivenessOf("b", kT0 + 15000 * kMs), Liveness::kSuspect);
  EXPECT_EQ(g.LivenessOf("b", kT0 + (15000 + 29999) * kMs), Liveness::kSuspect);
  EXPECT_EQ(g.LivenessOf("b", kT0 + (15000 + 30000) * kMs), Liveness::kDead);
}

TEST_F(GossipTest, ContactResetsFailures) {
  Gossip g("a", options_, &verifier_, 1);
  g.Receive("b", Push({Advert("b", 1, 1)}), kT0);
  const GossipOutbound to_b{"b", UrlOf("b"), Push({})};
  g.SendFailed(to_b, kT0);
  g.SendFailed(to_b, kT0);
  ASSERT_EQ(g.LivenessOf("b", kT0), Liveness::kSuspect);
  g.Receive("b", Push({}), kT0);  // a push from b is direct contact
  EXPECT_EQ(g.LivenessOf("b", kT0), Liveness::kAlive);
  g.SendFailed(to_b, kT0);
  g.SendFailed(to_b, kT0);
  ASSERT_EQ(g.LivenessOf("b", kT0), Liveness::kSuspect);
  EXPECT_TRUE(g.ReplyReceived(to_b, "b", GossipMessage{}, kT0).empty());
  EXPECT_EQ(g.LivenessOf("b", kT0), Liveness::kAlive);
  EXPECT_EQ(g.counters().send_failures, 4u);
}

TEST_F(GossipTest, DeadPeersAreNotPushedToButProbedByAntiEntropy) {
  Gossip g("a", options_, &verifier_, 1);
  g.Receive("b", Push({Advert("b", 1, 1)}), kT0);
  const core::Time late = kT0 + core::Duration(50000);
  ASSERT_EQ(g.LivenessOf("b", late), Liveness::kDead);
  g.SetLocalAdvert(Advert("a", 1, 1, late), late);  // no live peer to push to...
  std::vector<GossipOutbound> out = g.Tick(late);
  ASSERT_EQ(out.size(), 1u);  // ...but the dead one gets a digest
  EXPECT_EQ(out[0].to_center, "b");
  EXPECT_EQ(out[0].message.kind, GossipMessage::Kind::kDigest);
}

TEST_F(GossipTest, SeedIsTiedToTheCenterThatReplies) {
  Gossip g("a", options_, &verifier_, 1);
  g.AddSeed(UrlOf("b"));
  g.AddSeed(UrlOf("b"));
  std::vector<GossipOutbound> out = g.SetLocalAdvert(Advert("a", 1, 1), kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to_center, "");
  EXPECT_EQ(out[0].to_url, UrlOf("b"));
  g.ReplyReceived(out[0], "b", GossipMessage{}, kT0);
  out = g.Tick(kT0 + core::Duration(200));
  ASSERT_EQ(out.size(), 2u);  // news push and first digest, both to the now-known b
  for (const GossipOutbound& o : out) {
    EXPECT_EQ(o.to_center, "b");
    EXPECT_EQ(o.to_url, UrlOf("b"));
  }
}

TEST_F(GossipTest, SetLocalAdvertPushesToFanoutPeers) {
  Gossip g("a", options_, &verifier_, 1);
  std::vector<CapacityAdvert> peers;
  for (const char* c : {"b", "c", "d", "e", "f"}) peers.push_back(Advert(c, 1, 1));
  g.Receive("b", Push(peers), kT0);
  std::vector<GossipOutbound> out = g.SetLocalAdvert(Advert("a", 1, 1), kT0);
  ASSERT_EQ(out.size(), 3u);
  std::set<std::string> targets;
  for (const GossipOutbound& o : out) {
    targets.insert(o.to_center);
    EXPECT_EQ(o.message, Push({Advert("a", 1, 1)}));
  }
  EXPECT_EQ(targets.size(), 3u);
  EXPECT_EQ(g.counters().messages_sent, 3u);
  EXPECT_TRUE(g.SetLocalAdvert(Advert("a", 1, 1), kT0).empty());  // not newer
}

TEST_F(GossipTest, NewsIsPushedForAFewRoundsThenStops) {
  Gossip g("a", options_, &verifier_, 1);
  g.Receive("b", Push({Advert("b", 1, 1), Advert("c", 1, 1)}), kT0);
  g.Tick(kT0);  // first digest
  int pushes = 0;
  for (int round = 1; round <= 10; ++round) {
    for (const GossipOutbound& o : g.Tick(kT0 + round * options_.round)) {
      if (o.message.kind == GossipMessage::Kind::kPush) ++pushes;
    }
  }
  EXPECT_EQ(pushes, 2 * 2);  // rounds at +200 and +400 ms, to both peers
}

// Pushes in rounds 0..10 from kT0; `ack` answers each.
int CountNewsPushes(Gossip& g, const GossipOptions& options,
                    const std::function<GossipMessage(const GossipOutbound&)>& ack) {
  int pushes = 0;
  for (int round = 0; round <= 10; ++round) {
    const core::Time now = kT0 + round * options.round;
    for (const GossipOutbound& o : g.Tick(now)) {
      if (o.message.kind != GossipMessage::Kind::kPush) continue;
      ++pushes;
      g.ReplyReceived(o, o.to_center, ack(o), now);
    }
  }
  return pushes;
}

TEST_F(GossipTest, AckSaysWhichPushedAdvertsWereNoNews) {
  Gossip g("a", options_, &verifier_, 1);
  GossipMessage ack = g.Receive("b", Push({Advert("b", 1, 2), Advert("c", 1, 1)}), kT0);
  EXPECT_EQ(ack.kind, GossipMessage::Kind::kAck);
  EXPECT_TRUE(ack.digest.empty());
  // b 1.2 again (duplicate), b 1.1 (stale: we hold 1.2), c 1.2 (news).
  ack = g.Receive("d", Push({Advert("b", 1, 2), Advert("b", 1, 1), Advert("c", 1, 2)}), kT0);
  EXPECT_EQ(ack.digest, (std::vector<DigestEntry>{{"b", 1, 2}, {"b", 1, 2}}));
  const GossipMessage round_trip = *MessageFromJson(ToJson(ack));
  EXPECT_EQ(round_trip, ack);
}

TEST_F(GossipTest, NewsStopsOnceEnoughPeersAlreadyHadIt) {
  auto make = [&] {
    auto g = std::make_unique<Gossip>("a", options_, &verifier_, 1);
    std::vector<CapacityAdvert> peers;
    for (const char* c : {"b", "c", "d", "e", "f"}) peers.push_back(Advert(c, 1, 1));
    g->Receive("b", Push(peers), kT0);
    return g;
  };
  // Acks from an older federation say nothing: pushed for the full 3 rounds.
  auto empty_ack = [](const GossipOutbound&) { return GossipMessage{}; };
  EXPECT_EQ(CountNewsPushes(*make(), options_, empty_ack), 3 * 3);
  // Every peer already had everything: 4 redundant acks stop each advert, so the first
  // round (3 acks) is not enough and the second is the last.
  auto had_all = [](const GossipOutbound& o) {
    GossipMessage ack;
    for (const CapacityAdvert& a : o.message.adverts) {
      ack.digest.push_back({a.center, a.epoch, a.seq});
    }
    return ack;
  };
  EXPECT_EQ(CountNewsPushes(*make(), options_, had_all), 2 * 3);
  // An ack about an older advert than the one we push does not count.
  auto had_older = [](const GossipOutbound& o) {
    GossipMessage ack;
    for (const CapacityAdvert& a : o.message.adverts) {
      ack.digest.push_back({a.center, a.epoch, a.seq - 1});
    }
    return ack;
  };
  EXPECT_EQ(CountNewsPushes(*make(), options_, had_older), 3 * 3);
}

TEST_F(GossipTest, KeepAliveIsPushedToOnePeerAndNotPassedOn) {
  Gossip g("a", options_, &verifier_, 1);
  std::vector<CapacityAdvert> peers;
  for (const char* c : {"b", "c", "d", "e", "f"}) peers.push_back(Advert(c, 1, 1));
  g.Receive("b", Push(peers), kT0);
  ASSERT_EQ(g.SetLocalAdvert(Advert("a", 1, 1), kT0).size(), 3u);
  const core::Time later = kT0 + core::Duration(5000);  // all news has aged out
  g.Tick(later);
  // Same content, new seq and issue time: a keep-alive, to one peer, then no rounds.
  std::vector<GossipOutbound> out = g.SetLocalAdvert(Advert("a", 1, 2, later), later);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].message, Push({Advert("a", 1, 2, later)}));
  // A received keep-alive is taken but not pushed on; a changed advert is news.
  g.Receive("b", Push({Advert("c", 1, 2, later)}), later);
  EXPECT_EQ(g.FindAdvert("c")->seq, 2u);
  CapacityAdvert changed = Advert("d", 1, 2, later);
  changed.models[0].free = 3;
  ASSERT_TRUE(SignAdvert(FakeSigner("d"), changed).ok());
  g.Receive("b", Push({changed}), later);
  int pushes = 0;
  for (const GossipOutbound& o : g.Tick(later + options_.round)) {
    if (o.message.kind != GossipMessage::Kind::kPush) continue;
    ++pushes;
    EXPECT_EQ(o.message, Push({changed}));
  }
  EXPECT_EQ(pushes, 3);
  // A keep-alive of our own after a real change is news again.
  CapacityAdvert own = Advert("a", 1, 3, later);
  own.models[0].free = 1;
  ASSERT_TRUE(SignAdvert(FakeSigner("a"), own).ok());
  EXPECT_EQ(g.SetLocalAdvert(own, later).size(), 3u);
}

TEST_F(GossipTest, ForgetDropsARevokedCenter) {
  Gossip g("a", options_, &verifier_, 1);
  g.Receive("b", Push({Advert("b", 1, 1)}), kT0);
  const uint64_t version = g.version();
  verifier_.revoked.insert("b");
  g.Forget("b");
  g.Forget("a");  // never self
  EXPECT_GT(g.version(), version);
  EXPECT_EQ(Summary(g.View(kT0)), "a:0.0:alive ");
  g.Receive("c", Push({Advert("b", 1, 2)}), kT0);
  EXPECT_EQ(Rejected(g, RejectReason::kRevoked), 1u);
  EXPECT_EQ(g.FindAdvert("b"), nullptr);
}

TEST_F(GossipTest, SameSeedSameInputsSameOutput) {
  auto run = [&](uint64_t seed) {
    Gossip g("a", options_, &verifier_, seed);
    std::vector<CapacityAdvert> peers;
    for (int i = 0; i < 20; ++i) peers.push_back(Advert("p" + std::to_string(i), 1, 1));
    g.Receive("p0", Push(peers), kT0);
    std::string targets;
    for (int round = 0; round < 10; ++round) {
      for (const GossipOutbound& o : g.Tick(kT0 + round * options_.round))
        targets += o.to_center + ",";
    }
    return targets;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(GossipMessageJsonTest, RoundTrip) {
  GossipMessage m;
  m.kind = GossipMessage::Kind::kDigestReply;
  m.adverts = {Advert("b", 1, 2), Advert("c", 3, 4)};
  m.digest = {{"d", 5, 6}, {"e", 18446744073709551615ull, 0}};
  const std::string text = json::serialize(ToJson(m));
  core::Result<GossipMessage> back = MessageFromJson(json::parse(text));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, m);
  for (auto kind :
       {GossipMessage::Kind::kPush, GossipMessage::Kind::kDigest, GossipMessage::Kind::kAck}) {
    GossipMessage k;
    k.kind = kind;
    EXPECT_EQ(*MessageFromJson(ToJson(k)), k);
  }
  EXPECT_EQ(ToJson(m).at("kind").as_string(), "digest_reply");
}

TEST(GossipMessageJsonTest, StrictErrors) {
  auto field_of = [](const char* text) {
    core::Result<GossipMessage> r = MessageFromJson(json::parse(text));
    return r.ok() ? std::string("<ok>") : r.status().field();
  };
  EXPECT_EQ(field_of(R"({"kind":"gossip"})"), "kind");
  EXPECT_EQ(field_of(R"({"adverts":[]})"), "kind");
  EXPECT_EQ(field_of(R"({"kind":"push","extra":1})"), "extra");
  EXPECT_EQ(field_of(R"({"kind":"push","adverts":{}})"), "adverts");
  EXPECT_EQ(field_of(R"({"kind":"push","adverts":[{"center":"b"}]})"), "adverts[0].peer_url");
  EXPECT_EQ(field_of(R"({"kind":"digest","digest":[{"center":"b","epoch":1}]})"), "digest[0].seq");
  EXPECT_EQ(field_of(R"({"kind":"digest","digest":[{"center":"b","epoch":-1,"seq":1}]})"),
            "digest[0].epoch");
  EXPECT_EQ(field_of(R"({"kind":"digest","digest":[{"center":"","epoch":1,"seq":1}]})"),
            "digest[0].center");
  EXPECT_EQ(field_of(R"({"kind":"ack"})"), "<ok>");

  json::array too_many;
  for (size_t i = 0; i <= kMaxDigestEntries; ++i) {
    too_many.push_back(json::object{{"center", "c"}, {"epoch", 1}, {"seq", 1}});
  }
  json::object o{{"kind", "digest"}, {"digest", too_many}};
  core::Result<GossipMessage> r = MessageFromJson(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().field(), "digest");
}

}  // namespace
}  // namespace edwc::federation
