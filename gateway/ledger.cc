#include "gateway/ledger.h"

#include <boost/json.hpp>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <set>

#include "core/json.h"
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
constexpr std::string_view kOfferPrefix = "o/";
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

std::string OfferKey(std::string_view payer, uint64_t seq) {
  return std::string(kOfferPrefix) + std::string(payer) + "/" + Seq20(seq);
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
  const federation::AdvertSigner* signer = nullptr;
  const core::Clock* clock = nullptr;
  std::string cert_id, cert_pem;

  // A record issued and signed, waiting for the records before it in its chain.
  struct Ready {
    storage::Batch batch;
    Settlement record;
    Issued done;
  };
  struct Chain {
    uint64_t next_seq = 1;  // assigned next
    std::string head_hash = std::string(federation::kGenesisHash);
    uint64_t next_write = 1;  // queued to the store next
    std::map<uint64_t, Ready> ready;
  };

  mutable std::mutex mu;
  std::map<std::string, Chain, std::less<>> chains;  // GUARDED_BY(mu), by payee/payer
  std::map<std::string, std::vector<Issued>, std::less<>> issuing;  // GUARDED_BY(mu): id -> waiters
  std::map<std::string, std::set<uint64_t>, std::less<>> offers;    // GUARDED_BY(mu): by payer
  std::set<std::string, std::less<>> certs;                         // GUARDED_BY(mu): stored x/
  core::Status broken;  // GUARDED_BY(mu): a failed write: the chains may have a hole

  void AddCert(storage::Batch& batch, const std::string& id, std::string_view pem) {
    if (id.empty() || pem.empty() || certs.count(id)) return;
    certs.insert(id);
    batch.Put(Cf::kLedger, std::string(kCertPrefix) + id, std::string(pem));
  }

  // Queues every consecutive ready record of `chain`. REQUIRES: mu held.
  void Flush(Chain& chain) {
    for (auto it = chain.ready.find(chain.next_write); it != chain.ready.end();
         it = chain.ready.find(chain.next_write)) {
      Ready r = std::move(it->second);
      chain.ready.erase(it);
      chain.next_write++;
      store->WriteAsync(std::move(r.batch), [this, record = std::move(r.record),
                                             done = std::move(r.done)](core::Status st) mutable {
        std::vector<Issued> waiters;
        {
          std::lock_guard lock(mu);
          auto w = issuing.find(record.body.id);
          if (w != issuing.end()) {
            waiters = std::move(w->second);
            issuing.erase(w);
          }
          if (st.ok()) {
            offers[record.body.payer].insert(record.body.seq);
          } else if (broken.ok()) {
            broken = st;
          }
        }
        if (!st.ok()) {
          done(st, false);
          for (auto& w : waiters) w(st, false);
          return;
        }
        for (auto& w : waiters) w(record, false);
        done(std::move(record), true);
      });
    }
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
  impl->signer = signer;
  impl->clock = clock;
  impl->cert_pem = signer->certificate_pem();
  impl->cert_id = Sha256Hex(impl->cert_pem);
  // Chain heads: the last record of each chain (keys sort by chain, then seq).
  std::string last_chain, last_value;
  auto close_chain = [&]() -> core::Status {
    if (last_chain.empty()) return core::Status::Ok();
    EDWC_ASSIGN_OR_RETURN(Settlement head, Decode(last_value));
    Impl::Chain& c = impl->chains[last_chain];
    c.next_seq = c.next_write = head.body.seq + 1;
    c.head_hash = head.hash;
    return core::Status::Ok();
  };
  core::Status decode_error;
  EDWC_RETURN_IF_ERROR(
      store->Scan(Cf::kLedger, kEntryPrefix, [&](std::string_view k, std::string_view v) {
        std::string_view rest = k.substr(kEntryPrefix.size());
        std::string chain(rest.substr(0, rest.rfind('/')));
        if (chain != last_chain) {
          decode_error = close_chain();
          if (!decode_error.ok()) return false;
          last_chain = chain;
        }
        last_value.assign(v);
        return true;
      }));
  EDWC_RETURN_IF_ERROR(decode_error);
  EDWC_RETURN_IF_ERROR(close_chain());
  EDWC_RETURN_IF_ERROR(
      store->Scan(Cf::kLedger, kOfferPrefix, [&](std::string_view k, std::string_view) {
        std::string_view rest = k.substr(kOfferPrefix.size());
        const size_t slash = rest.rfind('/');
        impl->offers[std::string(rest.substr(0, slash))].insert(
            std::stoull(std::string(rest.substr(slash + 1))));
        return true;
      }));
  EDWC_RETURN_IF_ERROR(
      store->Scan(Cf::kLedger, kCertPrefix, [&](std::string_view k, std::string_view) {
        impl->certs.insert(std::string(k.substr(kCertPrefix.size())));
        return true;
      }));
  return std::unique_ptr<Ledger>(new Ledger(std::move(impl)));
}

const std::string& Ledger::self() const { return impl_->self; }
const std::string& Ledger::cert_id() const { return impl_->cert_id; }
const std::string& Ledger::cert_pem() const { return impl_->cert_pem; }

void Ledger::Issue(SettlementBody draft, Issued done) {
  Impl& d = *impl_;
  if (draft.payee != d.self || draft.payer.empty() || draft.payer == d.self ||
      draft.payer.find('/') != std::string::npos || draft.amount.fen() < 0 ||
      draft.id != federation::SettlementId(draft.kind, draft.source)) {
    return done(core::Status(core::Code::kInvalidArgument,
                             "settlement " + draft.id + " is not one this center can issue"),
                false);
  }
  Settlement record;
  std::string chain_key = ChainKey(draft.payee, draft.payer);
  {
    std::lock_guard lock(d.mu);
    if (!d.broken.ok()) return done(d.broken, false);
    if (auto w = d.issuing.find(draft.id); w != d.issuing.end()) {
      w->second.push_back(std::move(done));
      return;
    }
    auto existing = d.store->Get(Cf::kLedger, std::string(kIdPrefix) + draft.id);
    if (!existing.ok()) return done(existing.status(), false);
    if (existing->has_value()) {
      const std::string& where = **existing;
      const size_t slash = where.rfind('/');
      auto value = d.store->Get(Cf::kLedger, std::string(kEntryPrefix) + where.substr(0, slash) +
                                                 "/" + Seq20(std::stoull(where.substr(slash + 1))));
      if (!value.ok()) return done(value.status(), false);
      if (!value->has_value()) {
        return done(core::Status(core::Code::kInternal, "index without record: " + draft.id),
                    false);
      }
      return done(Decode(**value), false);
    }
    Impl::Chain& chain = d.chains[chain_key];
    draft.seq = chain.next_seq++;
    draft.prev_hash = chain.head_hash;
    draft.issued_at = d.clock->Now();
    record.body = std::move(draft);
    record.hash = federation::BodyHash(record.body);
    chain.head_hash = record.hash;
    d.issuing[record.body.id];
  }
  // Signing is the costly part: done outside the lock, then queued in sequence order.
  record.state = SettlementState::kOffered;
  record.payee_cert = d.cert_id;
  record.updated_at = record.body.issued_at;
  auto sig = d.signer->Sign(federation::CanonicalBytes(record.body));
  std::lock_guard lock(d.mu);
  Impl::Chain& chain = d.chains[chain_key];
  if (!sig.ok()) {
    // The chain cannot go on without this record: nothing more is issued.
    if (d.broken.ok()) d.broken = sig.status();
    d.issuing.erase(record.body.id);
    return done(sig.status(), false);
  }
  record.payee_sig = federation::Base64Encode(*sig);
  Impl::Ready ready;
  ready.batch.Put(Cf::kLedger, EntryKey(record.body.payee, record.body.payer, record.body.seq),
                  Encode(record));
  ready.batch.Put(Cf::kLedger, std::string(kIdPrefix) + record.body.id,
                  chain_key + "/" + std::to_string(record.body.seq));
  ready.batch.Put(Cf::kLedger, OfferKey(record.body.payer, record.body.seq), "");
  d.AddCert(ready.batch, d.cert_id, d.cert_pem);
  const uint64_t seq = record.body.seq;
  ready.record = std::move(record);
  ready.done = std::move(done);
  chain.ready.emplace(seq, std::move(ready));
  d.Flush(chain);
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
  if (record.body != b) {
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
  batch.Delete(Cf::kLedger, OfferKey(b.payer, b.seq));
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
    c.next_seq = c.next_write = head.first;
    c.head_hash = head.second;
  }
  if (!records.empty()) d.AddCert(batch, records.front().payee_cert, payee_pem);
  d.AddCert(batch, d.cert_id, d.cert_pem);  // our countersignatures
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
  return {c->second.next_seq, c->second.head_hash};
}

core::Result<std::optional<Settlement>> Ledger::Get(std::string_view id) const {
  EDWC_ASSIGN_OR_RETURN(auto where,
                        impl_->store->Get(Cf::kLedger, std::string(kIdPrefix) + std::string(id)));
  if (!where) return std::optional<Settlement>();
  const size_t seq_at = where->rfind('/');
  const std::string chain = where->substr(0, seq_at);
  const size_t payer_at = chain.find('/');
  return At(chain.substr(0, payer_at), chain.substr(payer_at + 1),
            std::stoull(where->substr(seq_at + 1)));
}

core::Result<std::optional<Settlement>> Ledger::At(std::string_view payee, std::string_view payer,
                                                   uint64_t seq) const {
  EDWC_ASSIGN_OR_RETURN(auto value, impl_->store->Get(Cf::kLedger, EntryKey(payee, payer, seq)));
  if (!value) return std::optional<Settlement>();
  EDWC_ASSIGN_OR_RETURN(Settlement s, Decode(*value));
  return std::optional<Settlement>(std::move(s));
}

core::Status Ledger::ForEach(const std::function<bool(const Settlement&)>& fn) const {
  core::Status bad;
  EDWC_RETURN_IF_ERROR(
      impl_->store->Scan(Cf::kLedger, kEntryPrefix, [&](std::string_view key, std::string_view v) {
        auto s = Decode(v);
        if (!s.ok()) {
          bad = s.status().WithContext(std::string(key));
          return false;
        }
        return fn(*s);
      }));
  return bad;
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
    auto check = [&](const std::string& who, const std::string& cert, const std::string& sig,
                     const std::string& bytes) -> std::optional<std::string> {
      const std::string pem = pem_of(cert);
      if (pem.empty()) return who + " certificate " + cert.substr(0, 12) + " is not stored";
      auto raw = federation::Base64Decode(sig);
      if (!raw) return who + " signature is not base64";
      auto st = verify(who == "payee" ? s.body.payee : s.body.payer, pem, bytes, *raw);
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
