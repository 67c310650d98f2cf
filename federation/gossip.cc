#include "federation/gossip.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cassert>
#include <tuple>
#include <utility>

#include "core/json.h"

namespace edwc::federation {

namespace json = boost::json;

namespace {

// News is pushed in at most this many rounds after it arrives (fanout peers each), and no
// longer once this many acks said the peer already had it: centers late in the epidemic,
// whose peers mostly know it already, stop after two rounds. At 32 centers a change then
// costs ~2/3 of the blind 3 rounds, and still reaches everyone in ~0.4 s (median);
// anti-entropy catches the rest. Fewer acks (2-3) save more but leave a tail past 1 s.
constexpr int kNewsRounds = 3;
constexpr int kRedundantAcksToStop = 4;

std::tuple<uint64_t, uint64_t> Version(const CapacityAdvert& a) { return {a.epoch, a.seq}; }
std::tuple<uint64_t, uint64_t> Version(const DigestEntry& e) { return {e.epoch, e.seq}; }

// Whether `next` merely renews `held` (a keep-alive): `held` is still valid at `now`, and
// nothing but seq, issue time and signature differ.
bool Renews(const CapacityAdvert& held, const CapacityAdvert& next, core::Time now) {
  auto offer = [](const CapacityAdvert& a) {
    return std::tie(a.center, a.peer_url, a.epoch, a.ttl, a.name, a.hub, a.city, a.zone,
                    a.lat_microdeg, a.lon_microdeg, a.models, a.egress_per_gb, a.links,
                    a.green_share_permille, a.pue_milli, a.free_fp16_dense_tflops,
                    a.total_fp16_dense_tflops, a.certificate_pem);
  };
  return now < held.expires_at() && offer(held) == offer(next);
}

}  // namespace

std::string_view LivenessName(Liveness liveness) {
  switch (liveness) {
    case Liveness::kAlive:
      return "alive";
    case Liveness::kSuspect:
      return "suspect";
    case Liveness::kDead:
      return "dead";
  }
  return "unknown";
}

Gossip::Gossip(std::string self_center, GossipOptions options, const AdvertVerifier* verifier,
               uint64_t seed)
    : self_(std::move(self_center)), options_(options), verifier_(verifier), rng_(seed) {
  assert(verifier_ != nullptr);
  known_[self_] = Known{};
}

void Gossip::AddSeed(std::string url) {
  if (url.empty()) return;
  for (const auto& [id, k] : known_) {
    if (k.url == url) return;  // already tied to a center
  }
  auto it = std::lower_bound(seeds_.begin(), seeds_.end(), url);
  if (it == seeds_.end() || *it != url) seeds_.insert(it, std::move(url));
}

std::vector<GossipOutbound> Gossip::SetLocalAdvert(CapacityAdvert advert, core::Time now) {
  assert(advert.center == self_);
  Known& k = known_[self_];
  if (k.advert && !IsNewer(advert, *k.advert)) return {};  // REQUIRES newer; ignore otherwise
  // A keep-alive goes to one peer; anti-entropy carries it on.
  const bool keep_alive = k.advert && Renews(*k.advert, advert, now);
  k.advert = std::move(advert);
  k.url = k.advert->peer_url;
  k.last_heard = now;
  if (!keep_alive) MakeNews(k, now);
  local_issued_ = now;
  ++version_;
  GossipMessage push;
  push.kind = GossipMessage::Kind::kPush;
  push.adverts.push_back(*k.advert);
  std::vector<GossipOutbound> out =
      PickPeers(keep_alive ? 1 : static_cast<size_t>(options_.fanout), now);
  for (GossipOutbound& o : out) o.message = push;
  return Sent(std::move(out));
}

bool Gossip::LocalAdvertDue(core::Time now) const {
  auto it = known_.find(self_);
  return !it->second.advert || now - local_issued_ >= options_.refresh_every;
}

std::vector<GossipOutbound> Gossip::Tick(core::Time now) {
  UpdateLiveness(now);
  std::vector<GossipOutbound> out;
  GossipMessage news;
  news.kind = GossipMessage::Kind::kPush;
  for (const auto& [id, k] : known_) {
    if (news.adverts.size() >= kMaxAdvertsPerMessage) break;
    if (k.advert && k.news_until > now && Usable(*k.advert, now)) news.adverts.push_back(*k.advert);
  }
  if (!news.adverts.empty()) {
    std::vector<GossipOutbound> targets = PickPeers(static_cast<size_t>(options_.fanout), now);
    for (size_t i = 0; i < targets.size(); ++i) {
      targets[i].message = i + 1 < targets.size() ? news : std::move(news);
      out.push_back(std::move(targets[i]));
    }
  }
  if (!anti_entropy_started_ || now - last_anti_entropy_ >= options_.anti_entropy_every) {
    anti_entropy_started_ = true;
    last_anti_entropy_ = now;
    GossipMessage digest;
    digest.kind = GossipMessage::Kind::kDigest;
    digest.digest = HeldDigest(now);
    std::vector<GossipOutbound> targets = PickPeers(1, now);
    // One dead peer per exchange, so that a recovered center is found again.
    if (std::optional<GossipOutbound> dead = PickDeadPeer(now)) targets.push_back(std::move(*dead));
    for (GossipOutbound& o : targets) {
      o.message = digest;
      out.push_back(std::move(o));
    }
  }
  return Sent(std::move(out));
}

GossipMessage Gossip::Receive(std::string_view from_center, const GossipMessage& message,
                              core::Time now) {
  GossipMessage reply;
  reply.kind = GossipMessage::Kind::kAck;
  if (message.kind == GossipMessage::Kind::kPush) {
    const size_t n = std::min(message.adverts.size(), kMaxAdvertsPerMessage);
    for (size_t i = 0; i < n; ++i) {
      const CapacityAdvert& pushed = message.adverts[i];
      if (Offer(pushed, now) == OfferResult::kAccepted) continue;
      // No news to us: say what we hold, so that the sender stops pushing it.
      const CapacityAdvert* held = FindAdvert(pushed.center);
      if (held != nullptr && Version(*held) >= Version(pushed)) {
        reply.digest.push_back({held->center, held->epoch, held->seq});
      }
    }
  } else if (message.kind == GossipMessage::Kind::kDigest) {
    reply.kind = GossipMessage::Kind::kDigestReply;
    std::map<std::string_view, const DigestEntry*> theirs;
    const size_t n = std::min(message.digest.size(), kMaxDigestEntries);
    for (size_t i = 0; i < n; ++i) theirs.emplace(message.digest[i].center, &message.digest[i]);
    for (const auto& [id, k] : known_) {
      if (reply.adverts.size() >= kMaxAdvertsPerMessage) break;
      if (!k.advert || !Usable(*k.advert, now)) continue;
      auto it = theirs.find(id);
      if (it == theirs.end() || Version(*k.advert) > Version(*it->second)) {
        reply.adverts.push_back(*k.advert);
      }
    }
    for (const auto& [id, entry] : theirs) {
      if (id == self_) continue;  // we are the authority on our own advert
      auto it = known_.find(id);
      if (it == known_.end() || !it->second.advert ||
          Version(*entry) > Version(*it->second.advert)) {
        reply.digest.push_back(*entry);
      }
    }
  }
  NoteContact(from_center, now);
  RefreshLiveness(from_center, now);
  return reply;
}

std::vector<GossipOutbound> Gossip::ReplyReceived(const GossipOutbound& sent,
                                                  std::string_view from_center,
                                                  const GossipMessage& reply, core::Time now) {
  if (from_center.empty() || from_center == self_) {
    // A seed that is ourselves (or anonymous): nothing to learn, stop contacting it.
    std::erase(seeds_, sent.to_url);
    return {};
  }
  if (sent.to_center.empty()) {
    std::erase(seeds_, sent.to_url);
    Known& k = known_[std::string(from_center)];
    if (k.url.empty()) k.url = sent.to_url;
  } else if (sent.to_center != from_center) {
    SendFailed(sent, now);  // the URL now answers as another center: not contact
    return {};
  }
  NoteContact(from_center, now);
  if (sent.message.kind == GossipMessage::Kind::kPush && reply.kind == GossipMessage::Kind::kAck) {
    NoteRedundant(reply);
  }
  std::vector<GossipOutbound> out;
  if (sent.message.kind == GossipMessage::Kind::kDigest &&
      reply.kind == GossipMessage::Kind::kDigestReply) {
    const size_t n = std::min(reply.adverts.size(), kMaxAdvertsPerMessage);
    for (size_t i = 0; i < n; ++i) Offer(reply.adverts[i], now);
    GossipMessage push;
    push.kind = GossipMessage::Kind::kPush;
    for (const DigestEntry& want : reply.digest) {
      if (push.adverts.size() >= kMaxAdvertsPerMessage) break;
      auto it = known_.find(want.center);
      if (it == known_.end() || !it->second.advert) continue;
      const CapacityAdvert& held = *it->second.advert;
      if (Usable(held, now) && Version(held) >= Version(want)) push.adverts.push_back(held);
    }
    if (!push.adverts.empty()) {
      out.push_back(GossipOutbound{std::string(from_center), sent.to_url, std::move(push)});
    }
  }
  RefreshLiveness(from_center, now);
  return Sent(std::move(out));
}

void Gossip::SendFailed(const GossipOutbound& sent, core::Time now) {
  ++counters_.send_failures;
  if (!sent.to_center.empty()) {
    auto it = known_.find(sent.to_center);
    if (it != known_.end()) ++it->second.consecutive_failures;
    RefreshLiveness(sent.to_center, now);
  }
}

std::vector<ViewEntry> Gossip::View(core::Time now) const {
  std::vector<ViewEntry> view;
  for (const auto& [id, k] : known_) {
    const bool self = id == self_;
    if (!k.advert && !self) continue;  // a tied seed whose advert has not arrived yet
    ViewEntry e;
    if (k.advert) {
      e.advert = *k.advert;
    } else {
      e.advert.center = id;
    }
    e.liveness = ComputeLiveness(id, k, now);
    e.last_heard = k.last_heard;
    e.consecutive_failures = k.consecutive_failures;
    e.self = self;
    view.push_back(std::move(e));
  }
  return view;
}

void Gossip::Forget(std::string_view center) {
  if (center == self_) return;
  auto it = known_.find(center);
  if (it == known_.end()) return;
  known_.erase(it);
  ++version_;
}

const CapacityAdvert* Gossip::FindAdvert(std::string_view center) const {
  auto it = known_.find(center);
  return it == known_.end() || !it->second.advert ? nullptr : &*it->second.advert;
}

std::optional<Liveness> Gossip::LivenessOf(std::string_view center, core::Time now) const {
  auto it = known_.find(center);
  if (it == known_.end() || (!it->second.advert && it->first != self_)) return std::nullopt;
  return ComputeLiveness(it->first, it->second, now);
}

Gossip::OfferResult Gossip::Offer(const CapacityAdvert& advert, core::Time now) {
  auto it = known_.find(advert.center);
  const CapacityAdvert* held =
      it != known_.end() && it->second.advert ? &*it->second.advert : nullptr;
  // The common case in gossip, so first: what we hold was checked when it arrived.
  if (held != nullptr && *held == advert) {
    ++counters_.duplicates;
    return OfferResult::kDuplicate;
  }
  if (!ValidateAdvert(advert).ok()) {
    Reject(RejectReason::kMalformed);
    return OfferResult::kRejected;
  }
  if (advert.center == self_) {
    // Only we sign our adverts; an old one of ours (a previous epoch) is merely stale.
    Reject(held != nullptr && IsNewer(*held, advert) ? RejectReason::kStale
                                                     : RejectReason::kForged);
    return OfferResult::kRejected;
  }
  // Cheap checks first, so that replays cost no signature verification.
  if (held != nullptr && IsNewer(*held, advert)) {
    Reject(RejectReason::kStale);
    return OfferResult::kRejected;
  }
  if (advert.issued_at > now + options_.max_future_skew) {
    Reject(RejectReason::kMalformed);
    return OfferResult::kRejected;
  }
  if (now >= advert.expires_at()) {
    Reject(RejectReason::kExpired);
    return OfferResult::kRejected;
  }
  RejectReason reason = RejectReason::kMalformed;
  if (!verifier_->Verify(advert, now, &reason).ok()) {
    Reject(reason);
    return OfferResult::kRejected;
  }
  if (held != nullptr && !IsNewer(advert, *held)) {
    // Same (epoch, seq), other content, validly signed: keep the first one.
    Reject(RejectReason::kStale);
    return OfferResult::kRejected;
  }
  Known& k = it != known_.end() ? it->second : known_[advert.center];
  // A new epoch is a new incarnation: failures of the old one no longer count.
  if (!k.advert || advert.epoch > k.advert->epoch) k.consecutive_failures = 0;
  // A keep-alive is not pushed on: anti-entropy spreads it at about one copy per center.
  const bool keep_alive = k.advert && Renews(*k.advert, advert, now);
  k.advert = advert;
  k.url = advert.peer_url;
  k.last_heard = now;
  if (!keep_alive) MakeNews(k, now);
  std::erase(seeds_, advert.peer_url);
  RefreshLiveness(advert.center, k, now);
  ++counters_.accepted;
  ++version_;
  return OfferResult::kAccepted;
}

void Gossip::MakeNews(Known& k, core::Time now) {
  k.news_until = now + kNewsRounds * options_.round;
  k.news_redundant = 0;
}

void Gossip::NoteRedundant(const GossipMessage& ack) {
  const size_t n = std::min(ack.digest.size(), kMaxDigestEntries);
  for (size_t i = 0; i < n; ++i) {
    const DigestEntry& had = ack.digest[i];
    auto it = known_.find(had.center);
    if (it == known_.end() || !it->second.advert) continue;
    Known& k = it->second;
    // An ack about an older advert than ours says nothing about our news.
    if (Version(had) < Version(*k.advert)) continue;
    if (++k.news_redundant >= kRedundantAcksToStop) k.news_until = core::Time{};
  }
}

void Gossip::Reject(RejectReason reason) { ++counters_.rejected[static_cast<size_t>(reason)]; }

Liveness Gossip::ComputeLiveness(const std::string& center, const Known& k, core::Time now) const {
  if (center == self_) return Liveness::kAlive;
  const int failures = k.consecutive_failures;
  if (!k.advert) {
    if (failures >= options_.failures_to_dead) return Liveness::kDead;
    return failures >= options_.failures_to_suspect ? Liveness::kSuspect : Liveness::kAlive;
  }
  const core::Time expires = k.advert->expires_at();
  const bool expired = now >= expires;
  // A live center re-advertises every refresh_every; two and a half of them without a
  // newer advert means its refreshes have stopped arriving.
  const bool silent = now >= k.advert->issued_at + options_.refresh_every * 5 / 2;
  // Dead: contact keeps failing and nothing fresh comes from it through others either (a
  // flaky link alone to a center that still refreshes only makes it suspect), or its
  // advert is long expired.
  if ((failures >= options_.failures_to_dead && (expired || silent)) ||
      (expired && now >= expires + options_.dead_after)) {
    return Liveness::kDead;
  }
  if (expired || silent || failures >= options_.failures_to_suspect) return Liveness::kSuspect;
  return Liveness::kAlive;
}

void Gossip::UpdateLiveness(core::Time now) {
  bool changed = false;
  for (auto& [id, k] : known_) changed = RefreshLiveness(id, k, now) || changed;
  if (changed) ++version_;
}

bool Gossip::RefreshLiveness(const std::string& center, Known& k, core::Time now) {
  const Liveness l = ComputeLiveness(center, k, now);
  if (l == k.liveness) return false;
  k.liveness = l;
  return true;
}

void Gossip::RefreshLiveness(std::string_view center, core::Time now) {
  auto it = known_.find(center);
  if (it != known_.end() && RefreshLiveness(it->first, it->second, now)) ++version_;
}

void Gossip::NoteContact(std::string_view center, core::Time now) {
  if (center.empty() || center == self_) return;
  auto it = known_.find(center);
  if (it == known_.end()) return;
  it->second.consecutive_failures = 0;
  it->second.last_heard = now;
}

std::vector<GossipOutbound> Gossip::PickPeers(size_t n, core::Time now) {
  // Candidates as (center or nullptr for a seed, url), so that only the chosen are copied.
  std::vector<std::pair<const std::string*, const std::string*>> candidates;
  for (const auto& [id, k] : known_) {
    if (id == self_ || k.url.empty()) continue;
    if (ComputeLiveness(id, k, now) != Liveness::kDead) candidates.emplace_back(&id, &k.url);
  }
  for (const std::string& url : seeds_) candidates.emplace_back(nullptr, &url);
  // Partial Fisher-Yates: the first n are a uniform random choice.
  n = std::min(n, candidates.size());
  std::vector<GossipOutbound> chosen;
  chosen.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::swap(candidates[i], candidates[i + RandomBelow(candidates.size() - i)]);
    const auto [center, url] = candidates[i];
    chosen.push_back({center != nullptr ? *center : std::string(), *url, {}});
  }
  return chosen;
}

std::optional<GossipOutbound> Gossip::PickDeadPeer(core::Time now) {
  std::vector<const std::pair<const std::string, Known>*> dead;
  for (const auto& entry : known_) {
    if (entry.first == self_ || entry.second.url.empty()) continue;
    if (ComputeLiveness(entry.first, entry.second, now) == Liveness::kDead) dead.push_back(&entry);
  }
  if (dead.empty()) return std::nullopt;
  const auto* chosen = dead[RandomBelow(dead.size())];
  return GossipOutbound{chosen->first, chosen->second.url, {}};
}

std::vector<DigestEntry> Gossip::HeldDigest(core::Time now) const {
  std::vector<DigestEntry> digest;
  for (const auto& [id, k] : known_) {
    if (digest.size() >= kMaxDigestEntries) break;
    if (k.advert && Usable(*k.advert, now)) digest.push_back({id, k.advert->epoch, k.advert->seq});
  }
  return digest;
}

// Expired adverts are kept (the view shows the center as suspect or dead) but not
// spread: every receiver would refuse them.
bool Gossip::Usable(const CapacityAdvert& advert, core::Time now) const {
  return now < advert.expires_at();
}

std::vector<GossipOutbound> Gossip::Sent(std::vector<GossipOutbound> out) {
  counters_.messages_sent += out.size();
  return out;
}

size_t Gossip::RandomBelow(size_t n) {
  // Modulo bias is at most n / 2^64: irrelevant for peer choice, and unlike
  // std::uniform_int_distribution it is the same on every standard library.
  return static_cast<size_t>(rng_() % n);
}

// ---- JSON -----------------------------------------------------------------------------

std::string_view MessageKindName(GossipMessage::Kind kind) {
  switch (kind) {
    case GossipMessage::Kind::kPush:
      return "push";
    case GossipMessage::Kind::kDigest:
      return "digest";
    case GossipMessage::Kind::kDigestReply:
      return "digest_reply";
    case GossipMessage::Kind::kAck:
      return "ack";
  }
  return "unknown";
}

json::object ToJson(const GossipMessage& message) {
  json::array adverts;
  for (const CapacityAdvert& a : message.adverts) adverts.push_back(ToJson(a));
  json::array digest;
  for (const DigestEntry& e : message.digest) {
    digest.push_back(json::object{{"center", e.center}, {"epoch", e.epoch}, {"seq", e.seq}});
  }
  json::object o;
  o["kind"] = MessageKindName(message.kind);
  o["adverts"] = std::move(adverts);
  o["digest"] = std::move(digest);
  return o;
}

namespace {

core::Result<uint64_t> GetCount(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return core::InvalidArgument("is required", std::string(field));
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return core::InvalidArgument("must be a non-negative integer", std::string(field));
}

core::Result<DigestEntry> DigestEntryFromJson(const json::value& v, const std::string& where) {
  if (!v.is_object()) return core::InvalidArgument("must be an object", where);
  const json::object& o = v.get_object();
  DigestEntry e;
  core::Status st = core::RejectUnknownFields(o, {"center", "epoch", "seq"});
  core::Result<std::string> center = core::GetString(o, "center");
  core::Result<uint64_t> epoch = GetCount(o, "epoch");
  core::Result<uint64_t> seq = GetCount(o, "seq");
  const std::array<const core::Status*, 4> checks = {&st, &center.status(), &epoch.status(),
                                                     &seq.status()};
  for (const core::Status* s : checks) {
    if (!s->ok()) return core::Status(s->code(), s->message(), where + "." + s->field());
  }
  if (center->empty()) return core::InvalidArgument("must not be empty", where + ".center");
  return DigestEntry{std::move(*center), *epoch, *seq};
}

const json::array* OptionalArray(const json::object& o, std::string_view field,
                                 core::Status* error) {
  const json::value* v = o.if_contains(field);
  if (v == nullptr || v->is_null()) return nullptr;
  if (!v->is_array()) *error = core::InvalidArgument("must be an array", std::string(field));
  return v->if_array();
}

}  // namespace

core::Result<GossipMessage> MessageFromJson(const json::value& value) {
  if (!value.is_object()) return core::InvalidArgument("a gossip message must be a JSON object");
  const json::object& o = value.get_object();
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"kind", "adverts", "digest"}));
  EDWC_ASSIGN_OR_RETURN(std::string kind, core::GetString(o, "kind"));
  GossipMessage m;
  if (kind == "push") {
    m.kind = GossipMessage::Kind::kPush;
  } else if (kind == "digest") {
    m.kind = GossipMessage::Kind::kDigest;
  } else if (kind == "digest_reply") {
    m.kind = GossipMessage::Kind::kDigestReply;
  } else if (kind == "ack") {
    m.kind = GossipMessage::Kind::kAck;
  } else {
    return core::InvalidArgument("must be push, digest, digest_reply or ack", "kind");
  }
  core::Status error;
  const json::array* adverts = OptionalArray(o, "adverts", &error);
  EDWC_RETURN_IF_ERROR(error);
  if (adverts != nullptr) {
    if (adverts->size() > kMaxAdvertsPerMessage) {
      return core::InvalidArgument(
          "at most " + std::to_string(kMaxAdvertsPerMessage) + " adverts per message", "adverts");
    }
    for (size_t i = 0; i < adverts->size(); ++i) {
      core::Result<CapacityAdvert> a = AdvertFromJson((*adverts)[i]);
      if (!a.ok()) {
        const core::Status& s = a.status();
        const std::string where = "adverts[" + std::to_string(i) + "]";
        return core::Status(s.code(), s.message(),
                            s.field().empty() ? where : where + "." + s.field());
      }
      m.adverts.push_back(std::move(*a));
    }
  }
  const json::array* digest = OptionalArray(o, "digest", &error);
  EDWC_RETURN_IF_ERROR(error);
  if (digest != nullptr) {
    if (digest->size() > kMaxDigestEntries) {
      return core::InvalidArgument(
          "at most " + std::to_string(kMaxDigestEntries) + " digest entries per message", "digest");
    }
    for (size_t i = 0; i < digest->size(); ++i) {
      EDWC_ASSIGN_OR_RETURN(DigestEntry e,
                            DigestEntryFromJson((*digest)[i], "digest[" + std::to_string(i) + "]"));
      m.digest.push_back(std::move(e));
    }
  }
  return m;
}

}  // namespace edwc::federation
