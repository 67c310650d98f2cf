// Ledger: this center's settlements in RocksDB (storage::Cf::kLedger), the durable half
// of federation/settlement.h. It keeps one hash chain per (payee, payer) pair this center
// is part of, with the rules of that header, and is the write path every settlement takes.
//
// Keys:
//   e/<payee>/<payer>/<seq, 20 digits>  a Settlement (JSON)
//   i/<settlement id>                   "<payee>/<payer>/<seq>": one record per id
//   x/<sha256 of a PEM>                 a certificate that signed a record
//
// Issuing (payee): the record's sequence number and chain hash are assigned under its
// chain's lock; the write then joins the store's group commit (storage::Store::Write: one
// WAL sync for every write queued meanwhile) without holding any lock, so writes of one
// chain may become durable out of order. Issue therefore returns only once every earlier
// record of its chain is durable too (acknowledgement in sequence order). A crash can thus
// leave a torn tail: records after a hole that nobody was told about and nobody was
// offered (unsigned). Open deletes such a tail, and only such a tail; any other hole is a
// broken chain that Verify reports.
// Signing: the payee's signature is made when a record is first offered (SignOffers,
// stored before it is sent), not on the write path.
//
// Durability: every method that changes something returns or calls back only after the
// change is in the WAL and synced.
//
// Thread-safety: all methods are thread-safe; callbacks run on the store's writer thread
// and must be quick.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "federation/settlement.h"

namespace edwc::storage {
class Store;
}  // namespace edwc::storage

namespace edwc::federation {
class AdvertSigner;
}  // namespace edwc::federation

namespace edwc::gateway {

class Ledger {
 public:
  using Done = std::function<void(core::Status)>;

  // Reads the chain heads and the unanswered offers. `signer` signs as `self` and must
  // outlive the ledger; so must `store` and `clock`.
  static core::Result<std::unique_ptr<Ledger>> Open(storage::Store* store, std::string self,
                                                    const federation::AdvertSigner* signer,
                                                    const core::Clock* clock);
  ~Ledger();

  const std::string& self() const;
  // SHA-256 hex of this center's certificate PEM (as in Settlement::payee_cert), and the
  // PEM: the signer's now (a reload may replace it; see signing()).
  std::string cert_id() const;
  std::string cert_pem() const;

  // The signer this center signs with now and its certificate's id, as one snapshot: a
  // signature and the certificate it names must come from the same one.
  struct Signing {
    std::shared_ptr<const federation::AdvertSigner> signer;
    std::string cert_id;  // SHA-256 hex of signer->certificate_pem()
  };
  std::shared_ptr<const Signing> signing() const;
  // Signs with `signer` from now on (a reloaded certificate). Stores the certificate in
  // use and the new one first, durably, so that records signed under either verify.
  // REQUIRES: not on an I/O thread (it waits for a sync).
  core::Status SetSigner(std::shared_ptr<const federation::AdvertSigner> signer);

  // ---- Payee ----------------------------------------------------------------------------
  struct Issued {
    federation::Settlement record;
    bool created = false;  // false: a settlement with this id existed (this is it)
  };
  // Issues `draft` (payee must be self; seq, prev_hash, issued_at are set here) as an
  // unanswered offer, unless a settlement with its id exists: then that one. Returns once
  // it and every earlier record of its chain are durable. kInvalidArgument for a draft
  // that is not ours or is malformed. REQUIRES: not on an I/O thread (it waits for a sync).
  core::Result<Issued> Issue(federation::SettlementBody draft);

  // Our unanswered offers to `payer`, ascending seq, at most `limit`, from `from_seq` on.
  std::vector<federation::Settlement> Offers(std::string_view payer, uint64_t from_seq,
                                             size_t limit) const;
  // Payers we have unanswered offers for.
  std::vector<std::string> PayersWithOffers() const;
  // Signs those of `offers` (ours, unanswered) that are not signed yet and stores them.
  // Returns once durable; `offers` then carry their signatures (a record signed or answered
  // meanwhile is taken as stored). REQUIRES: not an I/O thread; one call per payer at a time.
  core::Status SignOffers(std::vector<federation::Settlement>& offers);

  // The payer's answer to our offer (payee = self): `answer` is agreed (its payer_sig and
  // payer_cert set, `payer_pem` the payer's certificate) or disputed. Stores it in place
  // of the offer and drops the offer. kNotFound: no such record; kFailedPrecondition: the
  // answer's body is not our record's, or it is already answered otherwise.
  void RecordAnswer(const federation::Settlement& answer, std::string_view payer_pem, Done done);

  // ---- Payer ----------------------------------------------------------------------------
  // Stores records offered to us (payer = self) that the service has checked and
  // countersigned or disputed: each must be the next of its chain (in order within
  // `records`). `payee_pem` is kept once per certificate.
  void Accept(std::vector<federation::Settlement> records, std::string_view payee_pem, Done done);
  // The next seq expected in the chain payee -> payer, and the hash of its head.
  std::pair<uint64_t, std::string> Head(std::string_view payee, std::string_view payer) const;

  // ---- Reading ----------------------------------------------------------------------------
  core::Result<std::optional<federation::Settlement>> Get(std::string_view id) const;
  core::Result<std::optional<federation::Settlement>> At(std::string_view payee,
                                                         std::string_view payer,
                                                         uint64_t seq) const;
  // Every record, chain by chain in key order ("<payee>/<payer>/<seq, 20 digits>"), until
  // fn returns false; with `after`, only the records whose key sorts after it.
  core::Status ForEach(const std::function<bool(const federation::Settlement&)>& fn,
                       std::string_view after = {}) const;
  // The records of the chain payee -> payer, ascending, until fn returns false.
  core::Status ForEachIn(std::string_view payee, std::string_view payer,
                         const std::function<bool(const federation::Settlement&)>& fn) const;
  // A stored certificate PEM by its SHA-256 hex.
  core::Result<std::optional<std::string>> Certificate(std::string_view cert_id) const;

  // Walks every chain (CheckChain) and checks each signature with `verify(center, pem,
  // bytes, signature, at)` (the certificate from x/); an empty `verify` checks the chains
  // only (hashes, sequence, links: cheap). The report lists every chain.
  // `at` is when the record was last signed (the later of issued_at and updated_at): the
  // certificate must have been valid then, not now, so records stay verifiable for years
  // after the certificates that signed them expired or were rotated away.
  struct ChainReport {
    std::string payee, payer;
    uint64_t records = 0;
    std::string head_hash;
    std::optional<federation::ChainBreak> first_break;
  };
  using SignatureCheck = std::function<core::Status(std::string_view center, std::string_view pem,
                                                    std::string_view bytes,
                                                    std::string_view signature, core::Time at)>;
  core::Result<std::vector<ChainReport>> Verify(const SignatureCheck& verify) const;

 private:
  struct Impl;
  explicit Ledger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
