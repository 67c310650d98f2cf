// Gossip: the sans-I/O protocol that spreads signed capacity adverts through the
// federation and keeps each center's view of who is alive (DESIGN.md sections 3 and 5).
//
// It does no I/O and reads no clock: the driver (gateway/ in production, the seeded
// simulator in tests) hands it messages, send outcomes and the time, and sends what it
// returns. Every message is a request that gets one reply, which fits HTTP POST:
//
//   push      adverts the sender thinks are news      -> reply: ack, whose `digest` lists
//                                                        (center, epoch, seq) the replier
//                                                        already held for pushed adverts
//                                                        that were no news to it
//   digest    (center, epoch, seq) of all it holds    -> reply: adverts the replier holds
//                                                        newer, plus `want`: centers for
//                                                        which the digest was newer
//   (on a digest reply the initiator pushes what was wanted: push-pull anti-entropy)
//
// Spreading: on a change of its own advert a center pushes at once to `fanout` random
// peers; every round it pushes its news to `fanout` random peers and, every
// `anti_entropy_every`, exchanges digests with one random peer. News is an advert that
// changed something (a first advert, a new epoch, other capacity, prices or any other field
// than seq, issued_at and signature); it is pushed for at most 3 rounds, and no longer once
// 4 acks said the peer already had it (rumor mongering with feedback, Demers et al. 1987).
// A refresh that changed nothing is a keep-alive: its issuer pushes it to one peer and
// anti-entropy carries it on, which costs each center about one copy of it instead of a
// wave of pushes; refresh_every well under advert_ttl leaves anti-entropy time for that.
// Peers come from config seeds (URLs whose center is not yet known) and, transitively,
// from the peer_url of every verified advert.
//
// Liveness per center: alive while its advert is unexpired, fresh and direct contact
// works; suspect after `failures_to_suspect` failed contacts in a row, once its advert
// has expired, or when no newer advert came for 2.5 x `refresh_every` (its refreshes
// stopped); dead after `failures_to_dead` failed contacts in a row once its advert is
// expired or silent, or `dead_after` past expiry. Suspect centers are still shown and
// quoted; dead ones are not. A dead center is not placed on; it comes back when a newer advert (a
// restart brings a newer epoch) arrives or contact succeeds again.
//
// Not thread-safe: the driver serialises calls.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "federation/advert.h"

namespace edwc::federation {

struct GossipOptions {
  int fanout = 3;
  core::Duration round{200};                // how often the driver calls Tick
  core::Duration anti_entropy_every{1000};  // one digest exchange per this
  core::Duration advert_ttl{60000};         // TTL this center gives its own adverts
  core::Duration refresh_every{20000};      // re-issue own advert (new seq) this often
  int failures_to_suspect = 2;
  int failures_to_dead = 4;
  core::Duration dead_after{30000};       // past advert expiry with no news: dead
  core::Duration max_future_skew{30000};  // issued_at further ahead than this: malformed
};

enum class Liveness { kAlive, kSuspect, kDead };
std::string_view LivenessName(Liveness liveness);  // "alive", "suspect", "dead"

struct DigestEntry {
  std::string center;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  bool operator==(const DigestEntry&) const = default;
};

struct GossipMessage {
  enum class Kind { kPush, kDigest, kDigestReply, kAck };
  Kind kind = Kind::kAck;
  std::vector<CapacityAdvert> adverts;  // push; digest reply: newer adverts
  std::vector<DigestEntry> digest;      // digest: all held; digest reply: `want`
  bool operator==(const GossipMessage&) const = default;
};

// Bounds on one message, enforced when building and when decoding: a push or digest
// reply carries at most kMaxAdvertsPerMessage adverts, a digest or `want` at most
// kMaxDigestEntries entries. Larger federations converge over several exchanges.
inline constexpr size_t kMaxAdvertsPerMessage = 256;
inline constexpr size_t kMaxDigestEntries = 4096;

// JSON codec of messages, for the peer listener's POST bodies and replies.
// {"kind":"push"|"digest"|"digest_reply"|"ack","adverts":[...],"digest":[{"center",
// "epoch","seq"}]}; both arrays optional on input. Strict: unknown fields and
// over-long arrays are refused.
std::string_view MessageKindName(GossipMessage::Kind kind);
boost::json::object ToJson(const GossipMessage& message);
core::Result<GossipMessage> MessageFromJson(const boost::json::value& value);

// A message to send. `to_center` is empty for a seed whose center is not yet known.
struct GossipOutbound {
  std::string to_center;
  std::string to_url;
  GossipMessage message;
};

struct ViewEntry {
  CapacityAdvert advert;  // newest verified
  Liveness liveness = Liveness::kAlive;
  core::Time last_heard{};  // last verified advert or successful contact
  int consecutive_failures = 0;
  bool self = false;
};

struct GossipCounters {
  uint64_t accepted = 0;    // adverts that updated the view
  uint64_t duplicates = 0;  // adverts equal to what we hold (normal in gossip; not stale)
  std::array<uint64_t, kRejectReasonCount> rejected{};  // by RejectReason
  uint64_t messages_sent = 0;
  uint64_t send_failures = 0;
};

class Gossip {
 public:
  // `verifier` must outlive this object. `seed` makes peer choice reproducible.
  Gossip(std::string self_center, GossipOptions options, const AdvertVerifier* verifier,
         uint64_t seed);

  // Peer URLs from config; contacted until their center is learned from a reply.
  void AddSeed(std::string url);

  // This center's own newest advert, already signed (the driver signs). Returns the
  // immediate pushes to `fanout` peers.
  std::vector<GossipOutbound> SetLocalAdvert(CapacityAdvert advert, core::Time now);

  // True when the driver should issue a fresh own advert (refresh_every elapsed).
  bool LocalAdvertDue(core::Time now) const;

  // The periodic step: pushes, anti-entropy, liveness. Call every options.round.
  std::vector<GossipOutbound> Tick(core::Time now);

  // An inbound message from `from_center` (the id in its verified client certificate).
  // Returns the reply to send back.
  GossipMessage Receive(std::string_view from_center, const GossipMessage& message, core::Time now);

  // The reply to something we sent; `from_center` is the id in the replier's server
  // certificate. Returns follow-ups (pushes of what a digest reply wanted).
  std::vector<GossipOutbound> ReplyReceived(const GossipOutbound& sent,
                                            std::string_view from_center,
                                            const GossipMessage& reply, core::Time now);

  // Sending `sent` failed (connect, TLS, timeout, HTTP error).
  void SendFailed(const GossipOutbound& sent, core::Time now);

  // Every known center, self included, sorted by center id, with liveness as of `now`.
  std::vector<ViewEntry> View(core::Time now) const;

  // Bumped whenever the view changes (an advert accepted, a liveness change); the
  // driver re-renders its API view when this moves.
  uint64_t version() const { return version_; }

  const GossipCounters& counters() const { return counters_; }

  // Drops everything held about `center` (e.g. when it is revoked: the verifier then
  // refuses its adverts, so it does not come back). Self is never forgotten.
  void Forget(std::string_view center);

  // The newest verified advert held for `center` (self included), expired or not;
  // nullptr when none. Valid until the next non-const call.
  const CapacityAdvert* FindAdvert(std::string_view center) const;

  // Liveness of one known center as of `now`; nullopt when it is not in the view.
  std::optional<Liveness> LivenessOf(std::string_view center, core::Time now) const;

 private:
  struct Known {
    std::optional<CapacityAdvert> advert;  // newest verified; absent for a tied seed
    std::string url;                       // peer_url of the advert or the tied seed
    core::Time last_heard{};
    int consecutive_failures = 0;
    Liveness liveness = Liveness::kAlive;  // as of the last UpdateLiveness
    core::Time news_until{};               // pushed in rounds until then (recent change)
    int news_redundant = 0;                // acks that said the peer already had the news
  };
  enum class OfferResult { kAccepted, kDuplicate, kRejected };

  // Accepts `advert` if it verifies and is newer; counts the outcome.
  OfferResult Offer(const CapacityAdvert& advert, core::Time now);
  void Reject(RejectReason reason);
  // Starts pushing `k`'s advert as news.
  void MakeNews(Known& k, core::Time now);
  // Acks of a push: stops pushing news that enough peers already had.
  void NoteRedundant(const GossipMessage& ack);
  Liveness ComputeLiveness(const std::string& center, const Known& k, core::Time now) const;
  void UpdateLiveness(core::Time now);  // all entries; bumps version_ on a change
  bool RefreshLiveness(const std::string& center, Known& k, core::Time now);
  void RefreshLiveness(std::string_view center, core::Time now);
  void NoteContact(std::string_view center, core::Time now);
  // Up to n distinct random targets among live-or-suspect peers and untied seeds.
  std::vector<GossipOutbound> PickPeers(size_t n, core::Time now);
  // One random dead peer, if any.
  std::optional<GossipOutbound> PickDeadPeer(core::Time now);
  std::vector<DigestEntry> HeldDigest(core::Time now) const;
  bool Usable(const CapacityAdvert& advert, core::Time now) const;
  std::vector<GossipOutbound> Sent(std::vector<GossipOutbound> out);
  size_t RandomBelow(size_t n);

  std::string self_;
  GossipOptions options_;
  const AdvertVerifier* verifier_;
  std::mt19937_64 rng_;
  std::vector<std::string> seeds_;                   // URLs not yet tied to a center, sorted
  std::map<std::string, Known, std::less<>> known_;  // by id, self included
  core::Time last_anti_entropy_{};
  bool anti_entropy_started_ = false;
  core::Time local_issued_{};
  uint64_t version_ = 0;
  GossipCounters counters_;
};

}  // namespace edwc::federation
