#include "gateway/ledger.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <set>

#include "core/json.h"
#include "core/log.h"
#include "federation/advert.h"
#include "gateway/certs.h"
#include "storage/store.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::Settlement;
using federation::SettlementBody;
using federation::SettlementState;
using storage::Cf;

namespace {

constexpr std::string_view kEntryPrefix = "e/";
constexpr std::string_view kIdPrefix = "i/";
constexpr std::string_view kCertPrefix = "x/";

std::string Seq20(uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020" PRIu64, seq);
  return buf;
}

std::string ChainKey(std::string_view payee, std::string_view payer) {
  return std::string(payee) + "/" + std::string(payer);
}

std::string EntryKey(std::string_view payee, std::string_view payer, uint64_t seq) {
  return std::string(kEntryPrefix) + ChainKey(payee, payer) + "/" + Seq20(seq);
}

core::Result<Settlement> Decode(std::string_view text) {
  EDWC_ASSIGN_OR_RETURN(json::value v, core::ParseJson(text));
  return federation::SettlementFromJson(v);
}

std::string Encode(const Settlement& s) { return json::serialize(federation::ToJson(s)); }

}  // namespace

struct Ledger::Impl {
  storage::Store* store = nullptr;
  std::string self;
  const core::Clock* clock = nullptr;
  mutable std::mutex signing_mu;           // taken after mu, never before
  std::shared_ptr<const Signing> signing;  // GUARDED_BY(signing_mu)

  std::shared_ptr<const Signing> CurrentSigning() const {
    std::lock_guard lock(signing_mu);
    return signing;
  }

  struct Chain {
    uint64_t next_seq = 1;  // assigned next
    std::string head_hash = std::string(federation::kGenesisHash);
    uint64_t durable_upto = 0;         // records 1..durable_upto are durable
    std::set<uint64_t> durable_ahead;  // durable records beyond a hole still being written
    // Issuers waiting for an earlier record of this chain (rare: woken only when some wait).
    std::mutex mu;  // guards the fields of an issued chain (ours); taken after Impl::mu
    std::condition_variable caught_up;
    int waiting = 0;
    bool failed = false;  // a write failed: the chain has a hole until a restart
  };
  // An Issue in progress, for callers issuing the same id meanwhile.
  struct InFlight {
    bool done = false;
    core::Result<Issued> result = core::Status(core::Code::kInternal, "in flight");
  };

  mutable std::mutex mu;
  std::condition_variable ended;  // an issue ended (for callers issuing the same id)
  int ended_waiting = 0;          // GUARDED_BY(mu)
  std::map<std::string, Chain, std::less<>> chains;  // GUARDED_BY(mu), by payee/payer
  std::map<std::string, std::shared_ptr<InFlight>, std::less<>> issuing;  // GUARDED_BY(mu)
  std::map<std::string, std::set<uint64_t>, std::less<>> offers;  // GUARDED_BY(mu): by payer
  std::set<std::string, std::less<>> certs;                       // GUARDED_BY(mu): stored x/
  core::Status broken;  // GUARDED_BY(mu): a failed write: the chains may have a hole

  void AddCert(storage::Batch& batch, const std::string& id, std::string_view pem) {
    if (id.empty() || pem.empty() || certs.count(id)) return;
    certs.insert(id);
    batch.Put(Cf::kLedger, std::string(kCertPrefix) + id, std::string(pem));
  }

  core::Result<std::optional<Settlement>> ById(std::string_view id) const {
    EDWC_ASSIGN_OR_RETURN(auto where,
                          store->Get(Cf::kLedger, std::string(kIdPrefix) + std::string(id)));
    if (!where) return std::optional<Settlement>();
    const size_t slash = where->rfind('/');
    EDWC_ASSIGN_OR_RETURN(
        auto value,
        store->Get(Cf::kLedger, std::string(kEntryPrefix) + where->substr(0, slash) + "/" +
                                    Seq20(std::stoull(where->substr(slash + 1)))));
    if (!value)
      return core::Status(core::Code::kCorruption, "index without record: " + std::string(id));
    EDWC_ASSIGN_OR_RETURN(Settlement s, Decode(*value));
    return std::optional<Settlement>(std::move(s));
  }
};

Ledger::Ledger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;

core::Result<std::unique_ptr<Ledger>> Ledger::Open(storage::Store* store, std::string self,
                                                   const federation::AdvertSigner* signer,
                                                   const core::Clock* clock) {
  auto impl = std::make_unique<Impl>();
  impl->store = store;
  impl->self = std::move(self);
  impl->clock = clock;
  // Not owned: the caller keeps `signer` alive; a reloaded one comes owned (SetSigner).
  impl->signing = std::make_shared<const Signing>(
      Signing{std::shared_ptr<const federation::AdvertSigner>(std::shared_ptr<void>(), signer),
              Sha256Hex(signer->certificate_pem())});
  // Chains: heads, unanswered offers, and the torn tail a crash may leave (see ledger.h).
  struct Seen {
    std::vector<Settlement> records;  // ascending seq
  };
  std::map<std::string, Seen> seen;
  core::Status decode_error;
  EDWC_RETURN_IF_ERROR(
      store->Scan(Cf::kLedger, kEntryPrefix, [&](std::string_view k, std::string_view v) {
        std::string_view rest = k.substr(kEntryPrefix.size());
        auto s = Decode(v);
        if (!s.ok()) {
          decode_error = s.status().WithContext(std::string(k));
          return false;
        }
        seen[std::string(rest.substr(0, rest.rfind('/')))].records.push_back(std::move(s).value());
        return true;
      }));
  EDWC_RETURN_IF_ERROR(decode_error);
  storage::Batch torn;
  for (auto& [key, chain] : seen) {
    std::vector<Settlement>& records = chain.records;
    const bool ours = !records.empty() && records.front().body.payee == impl->self;
    // Our chain with a hole: the records after it were never acknowledged only if none of
    // them was ever offered (signed). Then they go; the ended work is issued again.
    size_t hole = records.size();
    for (size_t i = 0; i < records.size(); ++i) {
      if (records[i].body.seq != i + 1) {
        hole = i;
        break;
      }
    }
    if (ours && hole < records.size() &&
        std::all_of(records.begin() + hole, records.end(), [](const Settlement& r) {
          return r.state == SettlementState::kOffered && r.payee_sig.empty();
        })) {
      for (size_t i = hole; i < records.size(); ++i) {
        const SettlementBody& b = records[i].body;
        torn.Delete(Cf::kLedger, EntryKey(b.payee, b.payer, b.seq));
        torn.Delete(Cf::kLedger, std::string(kIdPrefix) + b.id);
      }
      core::LogWarn("ledger", "chain " + key + ": dropped " +
                                  std::to_string(records.size() - hole) +
                                  " unacknowledged record(s) after the hole at " +
                                  std::to_string(hole + 1) + " (a crash during their writes)");
      records.resize(hole);
    }
    if (records.empty()) continue;
    Impl::Chain& c = impl->chains[key];
    c.next_seq = records.back().body.seq + 1;
    c.durable_upto = records.back().body.seq;
    c.head_hash = records.back().hash;
    for (const Settlement& r : records) {
      if (r.body.payee == impl->self && r.state == SettlementState::kOffered) {
        impl->offers[r.body.payer].insert(r.body.seq);
      }
    }
  }
  if (!torn.empty()) EDWC_RETURN_IF_ERROR(store->Write(std::move(torn)));
  EDWC_RETURN_IF_ERROR(
      store->Scan(Cf::kLedger, kCertPrefix, [&](std::string_view k, std::string_view) {
        impl->certs.insert(std::string(k.substr(kCertPrefix.size())));
        return true;
      }));
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

const std::string& Ledger::self() const { return impl_->self; }
std::string Ledger::cert_id() const { return impl_->CurrentSigning()->cert_id; }
std::string Ledger::cert_pem() const { return impl_->CurrentSigning()->signer->certificate_pem(); }

std::shared_ptr<const Ledger::Signing> Ledger::signing() const { return impl_->CurrentSigning(); }

core::Status Ledger::SetSigner(std::shared_ptr<const federation::AdvertSigner> signer) {
  Impl& d = *impl_;
  auto next =
      std::make_shared<const Signing>(Signing{signer, Sha256Hex(signer->certificate_pem())});
  storage::Batch batch;
  std::vector<std::string> added;
  {
    std::lock_guard lock(d.mu);
    for (const auto& s : {d.CurrentSigning(), std::shared_ptr<const Signing>(next)}) {
      if (d.certs.count(s->cert_id) == 0) added.push_back(s->cert_id);
      d.AddCert(batch, s->cert_id, s->signer->certificate_pem());
    }
  }
  if (!batch.empty()) {
    if (core::Status st = d.store->Write(std::move(batch)); !st.ok()) {
      std::lock_guard lock(d.mu);
      for (const std::string& id : added) d.certs.erase(id);
      return st;
    }
  }
  std::lock_guard lock(d.signing_mu);
  d.signing = std::move(next);
  return core::Status::Ok();
}

core::Result<Ledger::Issued> Ledger::Issue(SettlementBody draft) {
  Impl& d = *impl_;
  if (draft.payee != d.self || draft.payer.empty() || draft.payer == d.self ||
      draft.payer.find('/') != std::string::npos || draft.amount.fen() < 0 ||
      draft.id != federation::SettlementId(draft.kind, draft.source)) {
    return core::Status(core::Code::kInvalidArgument,
                        "settlement " + draft.id + " is not one this center can issue");
  }
  const std::string chain_key = ChainKey(draft.payee, draft.payer);
  const std::string id = draft.id;
  const std::shared_ptr<const Signing> signing = d.CurrentSigning();
  storage::Batch batch;
  auto mine = std::make_shared<Impl::InFlight>();
  Impl::Chain* chain = nullptr;
  {
    // Claim the id: a concurrent Issue of it waits for ours, a later one finds it stored.
    std::unique_lock lock(d.mu);
    if (!d.broken.ok()) return d.broken;
    if (auto w = d.issuing.find(id); w != d.issuing.end()) {
      std::shared_ptr<Impl::InFlight> other = w->second;
      ++d.ended_waiting;
      d.ended.wait(lock, [&] { return other->done; });
      --d.ended_waiting;
      if (!other->result.ok()) return other->result.status();
      return Issued{other->result->record, false};
    }
    d.issuing[id] = mine;
    chain = &d.chains[chain_key];
    d.AddCert(batch, signing->cert_id, signing->signer->certificate_pem());  // once
  }
  // Ends the claim with `result`.
  auto finish = [&d, &id, &mine](core::Result<Issued> result, const std::vector<uint64_t>& offered,
                                 std::string_view payer) {
    std::lock_guard lock(d.mu);
    if (!offered.empty()) d.offers[std::string(payer)].insert(offered.begin(), offered.end());
    mine->done = true;
    mine->result = std::move(result);
    d.issuing.erase(id);
    if (d.ended_waiting > 0) d.ended.notify_all();
    return mine->result;
  };
  auto existing = d.ById(id);
  if (!existing.ok() || existing->has_value()) {
    return finish(existing.ok() ? core::Result<Issued>(Issued{std::move(**existing), false})
                                : core::Result<Issued>(existing.status()),
                  {}, "");
  }
  Settlement record;
  {
    // The chain's order: number and link under the chain's own lock.
    std::lock_guard lock(chain->mu);
    draft.seq = chain->next_seq++;
    draft.prev_hash = chain->head_hash;
    draft.issued_at = d.clock->Now();
    record.body = std::move(draft);
    record.hash = federation::BodyHash(record.body);
    chain->head_hash = record.hash;
  }
  record.state = SettlementState::kOffered;
  record.payee_cert = signing->cert_id;
  record.updated_at = record.body.issued_at;
  const SettlementBody& b = record.body;
  batch.Put(Cf::kLedger, EntryKey(b.payee, b.payer, b.seq), Encode(record));
  batch.Put(Cf::kLedger, std::string(kIdPrefix) + b.id, chain_key + "/" + std::to_string(b.seq));
  const core::Status written = d.store->Write(std::move(batch));
  std::vector<uint64_t> offered;  // records this write made contiguous
  bool caught_up = false;
  {
    std::unique_lock lock(chain->mu);
    if (!written.ok()) {
      // The chain has a hole only a restart can close (a torn tail): nothing more is issued.
      chain->failed = true;
    } else {
      chain->durable_ahead.insert(b.seq);
      while (!chain->durable_ahead.empty() &&
             *chain->durable_ahead.begin() == chain->durable_upto + 1) {
        chain->durable_ahead.erase(chain->durable_ahead.begin());
        offered.push_back(++chain->durable_upto);
      }
    }
    if (chain->waiting > 0) chain->caught_up.notify_all();
    // Acknowledged in sequence order: after every earlier record of the chain.
    if (chain->durable_upto < b.seq && !chain->failed) {
      ++chain->waiting;
      chain->caught_up.wait(lock, [&] { return chain->durable_upto >= b.seq || chain->failed; });
      --chain->waiting;
    }
    caught_up = chain->durable_upto >= b.seq;
  }
  if (!written.ok()) {
    std::lock_guard lock(d.mu);
    if (d.broken.ok()) d.broken = written;
  }
  const std::string payer = b.payer;  // `record` moves below
  if (!caught_up) {
    return finish(written.ok() ? core::Status(core::Code::kUnavailable,
                                              "an earlier record of the chain failed to write")
                               : written,
                  offered, payer);
  }
  return finish(Issued{std::move(record), true}, offered, payer);
}

std::vector<Settlement> Ledger::Offers(std::string_view payer, uint64_t from_seq,
                                       size_t limit) const {
  std::vector<uint64_t> seqs;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->offers.find(payer);
    if (it == impl_->offers.end()) return {};
    for (auto s = it->second.lower_bound(from_seq); s != it->second.end() && seqs.size() < limit;
         ++s) {
      seqs.push_back(*s);
    }
  }
  std::vector<Settlement> out;
  for (uint64_t seq : seqs) {
    auto r = At(impl_->self, payer, seq);
    if (r.ok() && r->has_value()) out.push_back(std::move(**r));
  }
  return out;
}

std::vector<std::string> Ledger::PayersWithOffers() const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [payer, seqs] : impl_->offers) {
    if (!seqs.empty()) out.push_back(payer);
  }
  return out;
}

core::Status Ledger::SignOffers(std::vector<Settlement>& offers) {
  Impl& d = *impl_;
  const std::shared_ptr<const Signing> signing = d.CurrentSigning();
  storage::Batch batch;
  {
    // Stored with the records it signs (a certificate rotated across a restart is new).
    std::lock_guard lock(d.mu);
    d.AddCert(batch, signing->cert_id, signing->signer->certificate_pem());
  }
  for (Settlement& s : offers) {
    if (!s.payee_sig.empty() || s.body.payee != d.self) continue;
    // The stored record decides: a copy read before another call signed or answered it
    // must not overwrite that.
    EDWC_ASSIGN_OR_RETURN(auto stored, At(s.body.payee, s.body.payer, s.body.seq));
    if (!stored) return core::Status(core::Code::kNotFound, "no record " + s.body.id);
    if (!stored->payee_sig.empty() || stored->state != SettlementState::kOffered) {
      s = std::move(*stored);
      continue;
    }
    EDWC_ASSIGN_OR_RETURN(std::string sig,
                          signing->signer->Sign(federation::CanonicalBytes(s.body)));
    s.payee_sig = federation::Base64Encode(sig);
    s.payee_cert = signing->cert_id;
    batch.Put(Cf::kLedger, EntryKey(s.body.payee, s.body.payer, s.body.seq), Encode(s));
  }
  if (batch.empty()) return core::Status::Ok();
  return d.store->Write(std::move(batch));
}

void Ledger::RecordAnswer(const Settlement& answer, std::string_view payer_pem, Done done) {
  Impl& d = *impl_;
  const SettlementBody& b = answer.body;
  if (b.payee != d.self || answer.state == SettlementState::kOffered) {
    return done(core::Status(core::Code::kInvalidArgument, "not an answer to our offer"));
  }
  auto stored = At(b.payee, b.payer, b.seq);
  if (!stored.ok()) return done(stored.status());
  if (!stored->has_value()) {
    return done(core::Status(core::Code::kNotFound,
                             "no settlement " + std::to_string(b.seq) + " to " + b.payer));
  }
  Settlement record = std::move(**stored);
  if (record.body != b || record.payee_sig != answer.payee_sig) {
    return done(core::Status(core::Code::kFailedPrecondition,
                             "the answer to " + b.id + " is about another record"));
  }
  if (record.state != SettlementState::kOffered) {
    const bool same = record.state == answer.state && record.payer_sig == answer.payer_sig &&
                      record.payer_version == answer.payer_version;
    return done(same ? core::Status::Ok()
                     : core::Status(core::Code::kFailedPrecondition,
                                    b.id + " was already answered otherwise"));
  }
  record.state = answer.state;
  record.payer_cert = answer.payer_cert;
  record.payer_sig = answer.payer_sig;
  record.payer_version = answer.payer_version;
  record.disputed_fields = answer.disputed_fields;
  record.dispute_reason = answer.dispute_reason;
  record.updated_at = d.clock->Now();
  storage::Batch batch;
  batch.Put(Cf::kLedger, EntryKey(b.payee, b.payer, b.seq), Encode(record));
  {
    std::lock_guard lock(d.mu);
    d.AddCert(batch, record.payer_cert, payer_pem);
  }
  d.store->WriteAsync(std::move(batch),
                      [&d, payer = b.payer, seq = b.seq, done = std::move(done)](core::Status st) {
                        if (st.ok()) {
                          std::lock_guard lock(d.mu);
                          auto it = d.offers.find(payer);
                          if (it != d.offers.end()) it->second.erase(seq);
                        }
                        done(st);
                      });
}

void Ledger::Accept(std::vector<Settlement> records, std::string_view payee_pem, Done done) {
  Impl& d = *impl_;
  storage::Batch batch;
  std::lock_guard lock(d.mu);
  if (!d.broken.ok()) return done(d.broken);
  // Checked against copies of the heads first, so that a refusal changes nothing.
  std::map<std::string, std::pair<uint64_t, std::string>> heads;
  std::set<std::string> ids;
  for (const Settlement& r : records) {
    const SettlementBody& b = r.body;
    if (b.payer != d.self || b.payee == d.self) {
      return done(core::Status(core::Code::kInvalidArgument, b.id + " is not owed by us"));
    }
    const std::string key = ChainKey(b.payee, b.payer);
    auto h = heads.find(key);
    if (h == heads.end()) {
      auto c = d.chains.find(key);
      h = heads
              .emplace(key, c == d.chains.end()
                                ? std::make_pair(uint64_t{1}, std::string(federation::kGenesisHash))
                                : std::make_pair(c->second.next_seq, c->second.head_hash))
              .first;
    }
    if (b.seq != h->second.first || b.prev_hash != h->second.second) {
      return done(core::Status(core::Code::kFailedPrecondition,
                               "record " + std::to_string(b.seq) + " is not the next of chain " +
                                   key + " (next is " + std::to_string(h->second.first) + ")"));
    }
    auto used = d.store->Get(Cf::kLedger, std::string(kIdPrefix) + b.id);
    if (!used.ok()) return done(used.status());
    if (used->has_value() || !ids.insert(b.id).second) {
      return done(core::Status(core::Code::kConflict, "settlement " + b.id + " is already stored"));
    }
    h->second = {b.seq + 1, r.hash};
    batch.Put(Cf::kLedger, EntryKey(b.payee, b.payer, b.seq), Encode(r));
    batch.Put(Cf::kLedger, std::string(kIdPrefix) + b.id, key + "/" + std::to_string(b.seq));
  }
  for (const auto& [key, head] : heads) {
    Impl::Chain& c = d.chains[key];
    c.next_seq = head.first;
    c.durable_upto = head.first - 1;
    c.head_hash = head.second;
  }
  if (!records.empty()) d.AddCert(batch, records.front().payee_cert, payee_pem);
  const std::shared_ptr<const Signing> signing = d.CurrentSigning();
  d.AddCert(batch, signing->cert_id, signing->signer->certificate_pem());  // countersignatures
  d.store->WriteAsync(std::move(batch), [&d, done = std::move(done)](core::Status st) {
    if (!st.ok()) {
      std::lock_guard lock(d.mu);
      if (d.broken.ok()) d.broken = st;
    }
    done(st);
  });
}

std::pair<uint64_t, std::string> Ledger::Head(std::string_view payee,
                                              std::string_view payer) const {
  std::lock_guard lock(impl_->mu);
  auto c = impl_->chains.find(ChainKey(payee, payer));
  if (c == impl_->chains.end()) return {1, std::string(federation::kGenesisHash)};
  std::lock_guard chain_lock(c->second.mu);
  return {c->second.next_seq, c->second.head_hash};
}

core::Result<std::optional<Settlement>> Ledger::Get(std::string_view id) const {
  return impl_->ById(id);
}

core::Result<std::optional<Settlement>> Ledger::At(std::string_view payee, std::string_view payer,
                                                   uint64_t seq) const {
  EDWC_ASSIGN_OR_RETURN(auto value, impl_->store->Get(Cf::kLedger, EntryKey(payee, payer, seq)));
  if (!value) return std::optional<Settlement>();
  EDWC_ASSIGN_OR_RETURN(Settlement s, Decode(*value));
  return std::optional<Settlement>(std::move(s));
}

namespace {

// Decodes every record under `prefix` from `start` on for `fn`.
core::Status ScanRecords(storage::Store& store, std::string_view prefix, std::string_view start,
                         std::string_view skip, const std::function<bool(const Settlement&)>& fn) {
  core::Status bad;
  EDWC_RETURN_IF_ERROR(
      store.ScanFrom(Cf::kLedger, prefix, start, [&](std::string_view key, std::string_view v) {
        if (key == skip) return true;
        auto s = Decode(v);
        if (!s.ok()) {
          bad = s.status().WithContext(std::string(key));
          return false;
        }
        return fn(*s);
      }));
  return bad;
}

}  // namespace

core::Status Ledger::ForEach(const std::function<bool(const Settlement&)>& fn,
                             std::string_view after) const {
  const std::string start = std::string(kEntryPrefix) + std::string(after);
  return ScanRecords(*impl_->store, kEntryPrefix, start, after.empty() ? "" : start, fn);
}

core::Status Ledger::ForEachIn(std::string_view payee, std::string_view payer,
                               const std::function<bool(const Settlement&)>& fn) const {
  const std::string prefix = std::string(kEntryPrefix) + ChainKey(payee, payer) + "/";
  return ScanRecords(*impl_->store, prefix, prefix, "", fn);
}

core::Result<std::optional<std::string>> Ledger::Certificate(std::string_view cert_id) const {
  return impl_->store->Get(Cf::kLedger, std::string(kCertPrefix) + std::string(cert_id));
}

core::Result<std::vector<Ledger::ChainReport>> Ledger::Verify(const SignatureCheck& verify) const {
  std::vector<ChainReport> out;
  std::map<std::string, std::string> pems;  // cert id -> PEM, read once
  auto pem_of = [&](const std::string& id) -> std::string {
    auto it = pems.find(id);
    if (it != pems.end()) return it->second;
    auto pem = Certificate(id);
    std::string text = pem.ok() && pem->has_value() ? **pem : "";
    pems.emplace(id, text);
    return text;
  };
  auto signature_problem = [&](const Settlement& s) -> std::optional<std::string> {
    if (!verify) return std::nullopt;
    if (s.state == SettlementState::kOffered && s.payee_sig.empty()) return std::nullopt;
    auto check = [&](const std::string& who, const std::string& cert, const std::string& sig,
                     const std::string& bytes) -> std::optional<std::string> {
      const std::string pem = pem_of(cert);
      if (pem.empty()) return who + " certificate " + cert.substr(0, 12) + " is not stored";
      auto raw = federation::Base64Decode(sig);
      if (!raw) return who + " signature is not base64";
      auto st = verify(who == "payee" ? s.body.payee : s.body.payer, pem, bytes, *raw,
                       std::max(s.body.issued_at, s.updated_at));
      if (!st.ok()) return who + " signature: " + st.message();
      return std::nullopt;
    };
    if (auto p = check("payee", s.payee_cert, s.payee_sig, federation::CanonicalBytes(s.body))) {
      return p;
    }
    if (s.state == SettlementState::kAgreed) {
      return check("payer", s.payer_cert, s.payer_sig,
                   federation::CountersignBytes(s.body, s.payee_sig));
    }
    return std::nullopt;
  };
  std::vector<Settlement> chain;
  std::string chain_key;
  auto close = [&] {
    if (chain.empty()) return;
    ChainReport report;
    report.payee = chain.front().body.payee;
    report.payer = chain.front().body.payer;
    report.records = chain.size();
    report.head_hash = chain.back().hash;
    report.first_break = federation::CheckChain(chain);
    for (const Settlement& s : chain) {
      if (report.first_break && report.first_break->seq <= s.body.seq) break;
      if (auto problem = signature_problem(s)) {
        report.first_break = federation::ChainBreak{s.body.seq, *problem};
        break;
      }
    }
    out.push_back(std::move(report));
    chain.clear();
  };
  core::Status bad;
  EDWC_RETURN_IF_ERROR(
      impl_->store->Scan(Cf::kLedger, kEntryPrefix, [&](std::string_view key, std::string_view v) {
        std::string_view rest = key.substr(kEntryPrefix.size());
        std::string k(rest.substr(0, rest.rfind('/')));
        if (k != chain_key) {
          close();
          chain_key = k;
        }
        auto s = Decode(v);
        if (!s.ok()) {
          // An undecodable record breaks its chain where it stands.
          Settlement placeholder;
          placeholder.body.seq = std::stoull(std::string(rest.substr(rest.rfind('/') + 1)));
          placeholder.hash = "undecodable: " + s.status().message();
          chain.push_back(std::move(placeholder));
          return true;
        }
        chain.push_back(std::move(s).value());
        return true;
      }));
  close();
  return out;
}

}  // namespace edwc::gateway
