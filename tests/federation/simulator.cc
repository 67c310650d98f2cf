#include "tests/federation/simulator.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <utility>

namespace edwc::federation::testing {

namespace {
std::pair<uint64_t, uint64_t> VersionOf(const CapacityAdvert& a) { return {a.epoch, a.seq}; }
}  // namespace

Simulator::Simulator(uint64_t seed, SimOptions options)
    : options_(options),
      rng_(seed),
      nodes_(static_cast<size_t>(options.centers)),
      now_(StartTime()),
      traffic_(static_cast<size_t>(options.centers)) {
  const int n = options_.centers;
  for (int i = 0; i < n; ++i) {
    Node& node = nodes_[static_cast<size_t>(i)];
    node.price_fen = 1000 + 50 * i;
    // A ring keeps the seed graph connected; the others are random.
    node.seeds.push_back(Url((i + 1) % n));
    while (static_cast<int>(node.seeds.size()) < std::min(options_.seeds_per_center, n - 1)) {
      const int other = static_cast<int>(rng_() % static_cast<uint64_t>(n));
      const std::string url = Url(other);
      if (other == i || std::find(node.seeds.begin(), node.seeds.end(), url) != node.seeds.end())
        continue;
      node.seeds.push_back(url);
    }
  }
}

std::string Simulator::Id(int center) const {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "c%02d", center);
  return buf;
}

// "https://cNN": short enough for the small-string buffer, which keeps adverts cheap to copy.
std::string Simulator::Url(int center) const { return "https://" + Id(center); }

int Simulator::CenterOfUrl(const std::string& url) const {
  constexpr size_t kPrefix = 9;  // "https://c"
  return std::stoi(url.substr(kPrefix));
}

void Simulator::Start() {
  for (int i = 0; i < options_.centers; ++i) Restart(i);
}

void Simulator::Restart(int center) {
  Node& node = nodes_[static_cast<size_t>(center)];
  node.gossip = std::make_unique<Gossip>(Id(center), options_.gossip, &verifier_, rng_());
  for (const std::string& url : node.seeds) node.gossip->AddSeed(url);
  ++node.incarnation;
  ++node.epoch;
  node.seq = 0;
  node.seen.clear();
  node.checked_version = ~uint64_t{0};
  node.current.reset();
  // The first tick issues the advert; phases differ so that rounds interleave.
  Event tick;
  tick.kind = EventKind::kTick;
  tick.center = center;
  tick.incarnation = node.incarnation;
  Schedule(now_ + core::Duration(static_cast<int64_t>(rng_() % options_.gossip.round.count())),
           std::move(tick));
}

void Simulator::WatchRevival(int center) {
  revived_center_ = center;
  revived_seen_.assign(static_cast<size_t>(options_.centers), false);
}

bool Simulator::AllSawRevival() const {
  for (int i = 0; i < options_.centers; ++i) {
    if (running(i) && !revived_seen_[static_cast<size_t>(i)]) return false;
  }
  return true;
}

void Simulator::Stop(int center) { nodes_[static_cast<size_t>(center)].gossip.reset(); }

void Simulator::ChangePrice(int center) {
  Node& node = nodes_[static_cast<size_t>(center)];
  node.price_fen += 100;
  IssueAdvert(center);
  watch_center_ = center;
  watch_version_ = VersionOf(*node.current);
  watch_start_ = now_;
  watch_converged_.reset();
  for (Node& n : nodes_) n.checked_version = ~uint64_t{0};  // re-check reach
}

void Simulator::IssueAdvert(int center) {
  Node& node = nodes_[static_cast<size_t>(center)];
  CapacityAdvert a;
  a.center = Id(center);
  a.peer_url = Url(center);
  a.epoch = node.epoch;
  a.seq = ++node.seq;
  a.issued_at = now_;
  a.ttl = options_.gossip.advert_ttl;
  a.name = "Center " + a.center;
  a.hub = center % 2 == 0 ? "ningxia" : "yangtze-delta";
  a.lat_microdeg = 30'000'000 + center * 100'000;
  a.lon_microdeg = 110'000'000 + center * 100'000;
  ModelCapacityAdvert m;
  m.model = "h800";
  m.total = 64;
  m.free = options_.refresh_changes_capacity ? static_cast<int32_t>(node.seq % 65) : 32;
  m.price.base_per_device_hour = core::Money::Fen(node.price_fen);
  m.price.windows.push_back({1320, 360, core::Money::Fen(node.price_fen / 2)});
  if (options_.production_sizes) {
    // A second model, a peak window and links to a few neighbours, as a real center has.
    m.price.windows.push_back({600, 240, core::Money::Fen(node.price_fen * 3 / 2)});
    ModelCapacityAdvert m2 = m;
    m2.model = "a800";
    a.models.push_back(std::move(m2));
    a.city = "zhongwei";
    a.zone = "cn-northwest";
    a.egress_per_gb = core::Money::Fen(30);
    for (int k = 1; k <= 6 && k < options_.centers; ++k) {
      a.links.push_back({Id((center + k) % options_.centers), 10'000, 20 + k});
    }
    std::sort(a.links.begin(), a.links.end(),
              [](const LinkAdvert& x, const LinkAdvert& y) { return x.center < y.center; });
    a.free_fp16_dense_tflops = 32 * 990;
    a.total_fp16_dense_tflops = 64 * 990;
  }
  a.models.push_back(std::move(m));  // after "a800": sorted by model id
  a.green_share_permille = 500;
  a.pue_milli = 1200;
  if (!SignAdvert(FakeSigner(a.center, options_.production_sizes), a).ok()) Fail("signing failed");
  node.current = a;
  Send(center, node.gossip->SetLocalAdvert(std::move(a), now_));
}

void Simulator::Schedule(core::Time at, Event event) {
  queue_.emplace(std::make_pair(at.time_since_epoch().count(), next_order_++), std::move(event));
}

core::Duration Simulator::Delay() {
  const auto span = static_cast<uint64_t>(options_.max_delay_ms - options_.min_delay_ms + 1);
  return core::Duration(options_.min_delay_ms + static_cast<int64_t>(rng_() % span));
}

bool Simulator::Chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }

void Simulator::Count(int center, const GossipMessage& message) {
  if (!options_.count_bytes) return;
  Traffic& t = traffic_[static_cast<size_t>(center)];
  t.bytes += boost::json::serialize(ToJson(message)).size();
  ++t.messages;
}

void Simulator::Send(int from, std::vector<GossipOutbound> out) {
  const uint64_t incarnation = nodes_[static_cast<size_t>(from)].incarnation;
  for (GossipOutbound& o : out) {
    Count(from, o.message);
    Event e;
    e.center = from;
    e.incarnation = incarnation;
    e.sent = std::move(o);
    if (Chance(options_.loss)) {
      e.kind = EventKind::kFailed;
      Schedule(now_ + options_.send_timeout, std::move(e));
      continue;
    }
    e.kind = EventKind::kRequest;
    if (Chance(options_.duplicate)) Schedule(now_ + Delay(), e);
    Schedule(now_ + Delay(), std::move(e));
  }
}

bool Simulator::RunUntil(core::Time until) {
  while (failure_.empty() && !queue_.empty() &&
         queue_.begin()->first.first <= until.time_since_epoch().count()) {
    auto handle = queue_.extract(queue_.begin());
    now_ = core::Time(core::Duration(handle.key().first));
    ++events_processed_;
    Handle(handle.mapped());
  }
  if (failure_.empty()) now_ = until;
  return failure_.empty();
}

void Simulator::Handle(Event& e) {
  Node& node = nodes_[static_cast<size_t>(e.center)];
  switch (e.kind) {
    case EventKind::kTick: {
      if (node.gossip == nullptr || e.incarnation != node.incarnation) return;
      if (node.gossip->LocalAdvertDue(now_) && (!refresh_frozen_ || !node.current)) {
        IssueAdvert(e.center);
      }
      Send(e.center, node.gossip->Tick(now_));
      Schedule(now_ + options_.gossip.round, std::move(e));
      Check(e.center);
      return;
    }
    case EventKind::kRequest: {
      const int to = CenterOfUrl(e.sent.to_url);
      Node& dest = nodes_[static_cast<size_t>(to)];
      if (dest.gossip == nullptr || Chance(options_.loss)) {  // down, or the reply is lost
        if (dest.gossip != nullptr) {
          // Processed; only the reply is lost.
          Count(to, dest.gossip->Receive(Id(e.center), e.sent.message, now_));
          Check(to);
        }
        e.kind = EventKind::kFailed;
        Schedule(now_ + options_.send_timeout, std::move(e));
        return;
      }
      e.reply = dest.gossip->Receive(Id(e.center), e.sent.message, now_);
      Count(to, e.reply);
      e.replier = to;
      e.kind = EventKind::kReply;
      Check(to);
      Schedule(now_ + Delay(), std::move(e));
      return;
    }
    case EventKind::kReply:
      if (node.gossip == nullptr || e.incarnation != node.incarnation) return;
      Send(e.center, node.gossip->ReplyReceived(e.sent, Id(e.replier), e.reply, now_));
      Check(e.center);
      return;
    case EventKind::kFailed:
      if (node.gossip == nullptr || e.incarnation != node.incarnation) return;
      node.gossip->SendFailed(e.sent, now_);
      Check(e.center);
      return;
  }
}

void Simulator::Check(int center) {
  Node& node = nodes_[static_cast<size_t>(center)];
  const Gossip& g = *node.gossip;
  if (g.LivenessOf(Id(center), now_) != Liveness::kAlive) Fail(Id(center) + " not alive to itself");
  if (revived_center_ >= 0 && !revived_seen_[static_cast<size_t>(center)]) {
    const CapacityAdvert* a = g.FindAdvert(Id(revived_center_));
    revived_seen_[static_cast<size_t>(center)] =
        a != nullptr && a->epoch == nodes_[static_cast<size_t>(revived_center_)].epoch &&
        g.LivenessOf(Id(revived_center_), now_) == Liveness::kAlive;
  }
  if (g.version() == node.checked_version) return;  // no advert changed since last check
  node.checked_version = g.version();
  bool watch_reached = watch_center_ >= 0 && !watch_converged_;
  for (int j = 0; j < options_.centers; ++j) {
    const CapacityAdvert* a = g.FindAdvert(Id(j));
    if (a == nullptr) {
      if (node.seen.count(j) > 0) Fail(Id(center) + " lost the advert of " + Id(j));
      continue;
    }
    const auto version = VersionOf(*a);
    auto [it, inserted] = node.seen.emplace(j, version);
    if (!inserted && version != it->second) {
      if (version < it->second) Fail(Id(center) + "'s view of " + Id(j) + " went backwards");
      it->second = version;
      inserted = true;
    }
    if (inserted) {
      if (a->center != Id(j)) Fail(Id(center) + " holds a mislabelled advert");
      // Verify each distinct advert once; later holders must hold exactly that one.
      auto [v, first] = verified_.try_emplace({j, version.first, version.second}, *a);
      RejectReason reason;
      if (first ? !verifier_.Verify(*a, now_, &reason).ok() : v->second != *a) {
        Fail(Id(center) + " holds an unverifiable advert of " + Id(j));
      }
    }
  }
  if (!watch_reached) return;
  // Has every running center now got the watched advert (or newer)?
  for (int i = 0; i < options_.centers; ++i) {
    if (!running(i)) continue;
    const CapacityAdvert* a = nodes_[static_cast<size_t>(i)].gossip->FindAdvert(Id(watch_center_));
    if (a == nullptr || VersionOf(*a) < watch_version_) return;
  }
  watch_converged_ = now_ - watch_start_;
}

void Simulator::Fail(std::string why) {
  if (failure_.empty()) {
    failure_ = "at +" + std::to_string((now_ - StartTime()).count()) + " ms: " + std::move(why);
  }
}

bool Simulator::Converged(std::string* why) const {
  for (int i = 0; i < options_.centers; ++i) {
    if (!running(i)) continue;
    const Gossip& g = *nodes_[static_cast<size_t>(i)].gossip;
    for (int j = 0; j < options_.centers; ++j) {
      if (!running(j)) continue;
      const CapacityAdvert* a = g.FindAdvert(Id(j));
      if (a == nullptr || *a != *Current(j)) {
        *why = Id(i) + " does not hold the newest advert of " + Id(j);
        return false;
      }
      // Suspect is allowed: two lost exchanges in a row make a live peer suspect.
      if (g.LivenessOf(Id(j), now_) == Liveness::kDead) {
        *why = Id(i) + " sees the running " + Id(j) + " dead";
        return false;
      }
    }
  }
  return true;
}

std::optional<Liveness> Simulator::LivenessIn(int viewer, int center) const {
  if (!running(viewer)) return std::nullopt;
  return nodes_[static_cast<size_t>(viewer)].gossip->LivenessOf(Id(center), now_);
}

const CapacityAdvert* Simulator::HeldBy(int viewer, int center) const {
  if (!running(viewer)) return nullptr;
  return nodes_[static_cast<size_t>(viewer)].gossip->FindAdvert(Id(center));
}

const CapacityAdvert* Simulator::Current(int center) const {
  const Node& node = nodes_[static_cast<size_t>(center)];
  return node.current ? &*node.current : nullptr;
}

}  // namespace edwc::federation::testing
