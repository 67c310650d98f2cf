// gateway::Ledger against a real RocksDB in a temporary directory: chains and their links,
// idempotent and concurrent issuing, durability across a reopen, the torn tail a crash
// leaves (dropped only when nobody was offered it), signing offers once, answers, the
// payer's acceptance rule, and Verify finding a tampered record.
#include "gateway/ledger.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <future>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "federation/advert.h"
#include "federation/settlement.h"
#include "gateway/advert_crypto.h"
#include "gateway/certs.h"
#include "storage/store.h"
#include "tests/support/test_support.h"

// Readable failure messages: a record as its JSON.
namespace edwc::federation {
void PrintTo(const Settlement& s, std::ostream* os) { *os << boost::json::serialize(ToJson(s)); }
}  // namespace edwc::federation

namespace edwc::gateway {
namespace {

namespace json = boost::json;
using federation::Settlement;
using federation::SettlementBody;
using federation::SettlementKind;
using federation::SettlementState;
using storage::Cf;

const core::Time kNow = core::Time(core::Duration(1'800'000'000'000));  // 2027-01-15

std::string EntryKey(std::string_view payee, std::string_view payer, uint64_t seq) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020" PRIu64, seq);
  return "e/" + std::string(payee) + "/" + std::string(payer) + "/" + digits;
}

// A compute draft from alpha (the payee in most tests) to `payer` for hold `hold`.
SettlementBody Draft(const std::string& payer, const std::string& hold, int64_t fen = 4000,
                     const std::string& payee = "alpha") {
  SettlementBody b;
  b.kind = SettlementKind::kCompute;
  b.source = hold;
  b.id = federation::SettlementId(b.kind, hold);
  b.payee = payee;
  b.payer = payer;
  b.job = "job-" + hold;
  b.model = "h800";
  b.devices = 2;
  b.accelerator_ms = 2 * 3'600'000;
  b.unit_price = core::Money::Fen(2000);
  b.amount = core::Money::Fen(fen);
  b.period_start = kNow - std::chrono::hours(1);
  b.period_end = kNow;
  return b;
}

core::Status Await(const std::function<void(Ledger::Done)>& start) {
  std::promise<core::Status> done;
  std::future<core::Status> result = done.get_future();
  start([&done](core::Status st) { done.set_value(std::move(st)); });
  return result.get();
}

// A center of the test federation: its certificate and signer.
struct Center {
  std::string id;
  std::unique_ptr<federation::AdvertSigner> signer;
  std::string pem;
  std::string cert_id;

  std::string Sign(std::string_view bytes) const {
    auto sig = signer->Sign(bytes);
    EXPECT_TRUE(sig.ok()) << sig.status().ToString();
    return sig.ok() ? federation::Base64Encode(*sig) : "";
  }
};

// A store and the ledger on it; Close() destroys both (the RocksDB lock goes with them).
struct Db {
  storage::StorePtr store;
  std::unique_ptr<Ledger> ledger;
  void Close() {
    ledger.reset();
    store.reset();
  }
};

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(MakeCenter("alpha", &alpha_));
    ASSERT_NO_FATAL_FAILURE(MakeCenter("beta", &beta_));
    auto verifier = CaAdvertVerifier::Create(dir_.path() + "/ca/ca.pem",
                                             [](std::string_view) { return false; });
    ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
    verifier_ = std::move(verifier).value();
  }

  void MakeCenter(const std::string& id, Center* out) {
    const testing::TestPki pki = testing::MakeTestPki(dir_.path(), id);
    auto signer = MakeAdvertSigner(pki.cert_file, pki.key_file);
    ASSERT_TRUE(signer.ok()) << signer.status().ToString();
    out->id = id;
    out->signer = std::move(signer).value();
    out->pem = out->signer->certificate_pem();
    out->cert_id = Sha256Hex(out->pem);
  }

  std::string Path(const std::string& name) const { return dir_.Sub("db-" + name); }

  void OpenStore(const std::string& name, storage::StorePtr* out) {
    storage::StoreOptions options;
    options.path = Path(name);
    auto store = storage::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    *out = std::move(store).value();
  }

  // Opens database `name` and a ledger on it as `self` (alpha or beta).
  void OpenLedger(const std::string& name, const Center& self, Db* db) {
    ASSERT_NO_FATAL_FAILURE(OpenStore(name, &db->store));
    auto ledger = Ledger::Open(db->store.get(), self.id, self.signer.get(), &clock_);
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    db->ledger = std::move(ledger).value();
  }

  // Opens database `name` without a ledger for raw edits. REQUIRES: no ledger open on it.
  void RawEdit(const std::string& name, const std::function<void(storage::Store&)>& edit) {
    storage::StorePtr store;
    ASSERT_NO_FATAL_FAILURE(OpenStore(name, &store));
    edit(*store);
  }

  Settlement IssueOrDie(Ledger& ledger, SettlementBody draft) {
    auto issued = ledger.Issue(std::move(draft));
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    if (!issued.ok()) return {};
    EXPECT_TRUE(issued->created);
    return issued->record;
  }

  // The payer's agreed answer to a signed offer: countersigned by `payer`.
  Settlement Agree(const Settlement& offer, const Center& payer) const {
    Settlement a = offer;
    a.state = SettlementState::kAgreed;
    a.payer_cert = payer.cert_id;
    a.payer_sig = payer.Sign(federation::CountersignBytes(offer.body, offer.payee_sig));
    return a;
  }

  Ledger::SignatureCheck Check() const {
    return [this](std::string_view center, std::string_view pem, std::string_view bytes,
                  std::string_view signature, core::Time at) {
      return verifier_->VerifySignature(center, pem, bytes, signature, at);
    };
  }

  static std::map<std::string, std::vector<Settlement>> ReadChains(const Ledger& ledger) {
    std::map<std::string, std::vector<Settlement>> chains;
    core::Status st = ledger.ForEach([&](const Settlement& s) {
      chains[s.body.payee + "/" + s.body.payer].push_back(s);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return chains;
  }

  static std::optional<Settlement> AtOrDie(const Ledger& ledger, std::string_view payer,
                                           uint64_t seq, std::string_view payee = "alpha") {
    auto r = ledger.At(payee, payer, seq);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }

  static std::optional<Settlement> GetOrDie(const Ledger& ledger, std::string_view id) {
    auto r = ledger.Get(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }

  // Records 1..n of alpha's chain to `payer`, read by number (not through Offers()).
  static std::vector<Settlement> ReadRange(const Ledger& ledger, std::string_view payer,
                                           uint64_t n) {
    std::vector<Settlement> out;
    for (uint64_t seq = 1; seq <= n; ++seq) {
      std::optional<Settlement> s = AtOrDie(ledger, payer, seq);
      EXPECT_TRUE(s.has_value()) << payer << " " << seq;
      if (s) out.push_back(*s);
    }
    return out;
  }

  static std::vector<uint64_t> Seqs(const std::vector<Settlement>& records) {
    std::vector<uint64_t> out;
    for (const Settlement& s : records) out.push_back(s.body.seq);
    return out;
  }

  testing::TempDir dir_;
  core::ManualClock clock_{kNow};
  Center alpha_, beta_;
  std::unique_ptr<CaAdvertVerifier> verifier_;
};

// ---- 1. Chains ---------------------------------------------------------------------------

TEST_F(LedgerTest, IssueNumbersAndLinksEachChainOnItsOwn) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  std::map<std::string, std::vector<Settlement>> issued;
  for (int i = 0; i < 5; ++i) {
    for (const std::string payer : {"beta", "gamma"}) {
      if (payer == "gamma" && i >= 3) continue;
      clock_.Advance(std::chrono::seconds(1));
      Settlement s = IssueOrDie(*db.ledger, Draft(payer, payer + "-hold-" + std::to_string(i)));
      std::vector<Settlement>& chain = issued[payer];
      EXPECT_EQ(s.body.seq, chain.size() + 1) << payer << " " << i;
      EXPECT_EQ(s.body.prev_hash, chain.empty() ? std::string(federation::kGenesisHash)
                                                : federation::BodyHash(chain.back().body));
      EXPECT_EQ(s.hash, federation::BodyHash(s.body));
      EXPECT_EQ(s.state, SettlementState::kOffered);
      EXPECT_EQ(s.payee_cert, db.ledger->cert_id());
      EXPECT_TRUE(s.payee_sig.empty()) << "signed only when first offered";
      EXPECT_EQ(s.body.issued_at, clock_.Now());
      chain.push_back(s);
    }
  }
  EXPECT_EQ(db.ledger->cert_id(), alpha_.cert_id);

  auto chains = ReadChains(*db.ledger);
  ASSERT_EQ(chains.size(), 2u);
  EXPECT_EQ(chains["alpha/beta"], issued["beta"]);
  EXPECT_EQ(chains["alpha/gamma"], issued["gamma"]);
  for (const auto& [key, chain] : chains) {
    EXPECT_EQ(federation::CheckChain(chain), std::nullopt) << key;
  }
  EXPECT_EQ(db.ledger->Head("alpha", "beta"), std::make_pair(uint64_t{6}, issued["beta"][4].hash));
  EXPECT_EQ(db.ledger->Head("alpha", "gamma"),
            std::make_pair(uint64_t{4}, issued["gamma"][2].hash));
  EXPECT_EQ(db.ledger->Head("alpha", "delta"),
            std::make_pair(uint64_t{1}, std::string(federation::kGenesisHash)));
  auto cert = db.ledger->Certificate(alpha_.cert_id);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(*cert, std::optional<std::string>(alpha_.pem));
}

TEST_F(LedgerTest, IssueRefusesDraftsThatAreNotOurs) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  SettlementBody wrong_id = Draft("beta", "h1");
  wrong_id.id = "compute/other";
  for (const SettlementBody& draft : {Draft("beta", "h1", 100, "gamma"), Draft("alpha", "h1"),
                                      Draft("be/ta", "h1"), wrong_id, Draft("beta", "h1", -1)}) {
    auto issued = db.ledger->Issue(draft);
    ASSERT_FALSE(issued.ok()) << draft.payee << "->" << draft.payer << " " << draft.id;
    EXPECT_EQ(issued.status().code(), core::Code::kInvalidArgument);
  }
  EXPECT_TRUE(ReadChains(*db.ledger).empty());
}

// Issue lists each record as an unanswered offer to its payer once it is durable. Two
// names: a short one lives in std::string's inline buffer and a long one on the heap, so
// that a use of the payer's name after its record was moved shows with the short one.
TEST_F(LedgerTest, IssuedRecordsAreOfferedToTheirPayer) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  const std::string short_name = "beta";
  const std::string long_name = "a-center-with-a-longer-name";
  for (const std::string& payer : {short_name, long_name}) {
    std::vector<Settlement> issued;
    for (int i = 1; i <= 2; ++i) {
      issued.push_back(IssueOrDie(*db.ledger, Draft(payer, payer + "-" + std::to_string(i))));
    }
    EXPECT_EQ(db.ledger->Offers(payer, 0, 100), issued) << payer;
  }
  EXPECT_EQ(db.ledger->PayersWithOffers(), (std::vector<std::string>{long_name, short_name}));
}

// ---- 2. Idempotency and concurrency ---------------------------------------------------------

TEST_F(LedgerTest, IssuingAnIdAgainReturnsTheFirstRecord) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  Settlement first = IssueOrDie(*db.ledger, Draft("beta", "h1", 4000));
  clock_.Advance(std::chrono::minutes(5));
  // Same id, another amount: the stored record is the answer, nothing new is numbered.
  auto again = db.ledger->Issue(Draft("beta", "h1", 9999));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->record, first);
  Settlement next = IssueOrDie(*db.ledger, Draft("beta", "h2"));
  EXPECT_EQ(next.body.seq, 2u);
  EXPECT_EQ(ReadChains(*db.ledger)["alpha/beta"].size(), 2u);
}

TEST_F(LedgerTest, ConcurrentIssuesOfOneIdCreateOneRecord) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  constexpr int kThreads = 32;
  std::latch start(kThreads);
  std::vector<core::Result<Ledger::Issued>> results(kThreads,
                                                    core::Status(core::Code::kInternal, "unset"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      results[t] = db.ledger->Issue(Draft("beta", "same-hold"));
    });
  }
  for (std::thread& t : threads) t.join();
  int created = 0;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(results[t].ok()) << t << ": " << results[t].status().ToString();
    created += results[t]->created ? 1 : 0;
    EXPECT_EQ(results[t]->record, results[0]->record) << t;
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(results[0]->record.body.seq, 1u);
  auto chains = ReadChains(*db.ledger);
  ASSERT_EQ(chains["alpha/beta"].size(), 1u);
  EXPECT_EQ(chains["alpha/beta"][0], results[0]->record);
  EXPECT_EQ(db.ledger->Offers("beta", 0, 100).size(), 1u);
  EXPECT_EQ(db.ledger->Head("alpha", "beta").first, 2u);
}

TEST_F(LedgerTest, ConcurrentIssuesToFourPayersGiveGapFreeChains) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  constexpr int kThreads = 32;
  const std::vector<std::string> payers = {"beta", "gamma", "delta", "epsilon"};
  std::latch start(kThreads);
  std::mutex mu;
  std::vector<std::string> failures;  // GUARDED_BY(mu)
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string& payer = payers[t % payers.size()];
      start.arrive_and_wait();
      auto issued = db.ledger->Issue(Draft(payer, "hold-" + std::to_string(t)));
      std::string problem;
      if (!issued.ok()) {
        problem = issued.status().ToString();
      } else if (!issued->created) {
        problem = "not created";
      } else {
        // Acknowledged in sequence order: every earlier record of the chain is stored.
        for (uint64_t seq = 1; seq < issued->record.body.seq; ++seq) {
          auto earlier = db.ledger->At("alpha", payer, seq);
          if (!earlier.ok() || !earlier->has_value()) {
            problem = "record " + std::to_string(seq) + " of " + payer + " missing when " +
                      std::to_string(issued->record.body.seq) + " was acknowledged";
          }
        }
      }
      if (!problem.empty()) {
        std::lock_guard lock(mu);
        failures.push_back(std::to_string(t) + ": " + problem);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& f : failures) ADD_FAILURE() << f;

  auto reports = db.ledger->Verify(nullptr);
  ASSERT_TRUE(reports.ok()) << reports.status().ToString();
  ASSERT_EQ(reports->size(), payers.size());
  for (const Ledger::ChainReport& r : *reports) {
    EXPECT_EQ(r.payee, "alpha");
    EXPECT_EQ(r.records, 8u) << r.payer;
    EXPECT_FALSE(r.first_break.has_value()) << r.payer << ": " << r.first_break->problem;
    EXPECT_EQ(r.head_hash, db.ledger->Head("alpha", r.payer).second) << r.payer;
    EXPECT_EQ(db.ledger->Head("alpha", r.payer).first, 9u) << r.payer;
  }
  for (const std::string& payer : payers) {
    EXPECT_EQ(Seqs(db.ledger->Offers(payer, 0, 100)),
              (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}))
        << payer;
  }
}

// ---- 3. Durability ----------------------------------------------------------------------------

TEST_F(LedgerTest, AcknowledgedRecordsSurviveAReopenAndTheChainContinues) {
  constexpr int kRecords = 6;
  std::vector<Settlement> issued;
  {
    Db db;
    ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
    for (int i = 0; i < kRecords; ++i) {
      issued.push_back(IssueOrDie(*db.ledger, Draft("beta", "h" + std::to_string(i))));
    }
    db.Close();
  }
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  auto chains = ReadChains(*db.ledger);
  EXPECT_EQ(chains["alpha/beta"], issued);
  for (const Settlement& s : issued) EXPECT_EQ(GetOrDie(*db.ledger, s.body.id), s);
  EXPECT_EQ(db.ledger->Head("alpha", "beta"),
            std::make_pair(uint64_t{kRecords + 1}, issued.back().hash));
  EXPECT_EQ(db.ledger->Offers("beta", 0, 100), issued);
  EXPECT_EQ(db.ledger->PayersWithOffers(), std::vector<std::string>{"beta"});

  Settlement next = IssueOrDie(*db.ledger, Draft("beta", "after-restart"));
  EXPECT_EQ(next.body.seq, uint64_t{kRecords + 1});
  EXPECT_EQ(next.body.prev_hash, issued.back().hash);
  auto again = db.ledger->Issue(Draft("beta", "h2"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->record, issued[2]);
  EXPECT_EQ(federation::CheckChain(ReadChains(*db.ledger)["alpha/beta"]), std::nullopt);
}

// ---- 4. Torn tail -----------------------------------------------------------------------------

class TornTailTest : public LedgerTest {
 protected:
  // Issues h1..h5 to beta (signing record `sign_seq` if non-zero), closes, and deletes
  // record 3 (its e/ and i/ keys) as a crash between writes would have left it.
  void IssueFiveAndLoseThird(uint64_t sign_seq) {
    {
      Db db;
      ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
      for (int i = 1; i <= 5; ++i) {
        records_.push_back(IssueOrDie(*db.ledger, Draft("beta", "h" + std::to_string(i))));
      }
      if (sign_seq != 0) {
        std::vector<Settlement> offer = {*AtOrDie(*db.ledger, "beta", sign_seq)};
        ASSERT_TRUE(db.ledger->SignOffers(offer).ok());
        ASSERT_FALSE(offer[0].payee_sig.empty());
        records_[sign_seq - 1] = offer[0];
      }
      db.Close();
    }
    ASSERT_NO_FATAL_FAILURE(RawEdit("a", [&](storage::Store& store) {
      storage::Batch batch;
      batch.Delete(Cf::kLedger, EntryKey("alpha", "beta", 3));
      batch.Delete(Cf::kLedger, "i/" + records_[2].body.id);
      ASSERT_TRUE(store.Write(std::move(batch)).ok());
      auto gone = store.Get(Cf::kLedger, EntryKey("alpha", "beta", 3));
      ASSERT_TRUE(gone.ok());
      ASSERT_FALSE(gone->has_value());
    }));
  }

  std::vector<Settlement> records_;
};

TEST_F(TornTailTest, UnofferedRecordsAfterAHoleAreDroppedOnOpen) {
  ASSERT_NO_FATAL_FAILURE(IssueFiveAndLoseThird(0));
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  EXPECT_EQ(GetOrDie(*db.ledger, records_[0].body.id), records_[0]);
  EXPECT_EQ(GetOrDie(*db.ledger, records_[1].body.id), records_[1]);
  for (int i = 2; i < 5; ++i) {
    EXPECT_EQ(GetOrDie(*db.ledger, records_[i].body.id), std::nullopt) << "h" << i + 1;
    EXPECT_EQ(AtOrDie(*db.ledger, "beta", i + 1), std::nullopt) << "seq " << i + 1;
  }
  EXPECT_EQ(db.ledger->Head("alpha", "beta"), std::make_pair(uint64_t{3}, records_[1].hash));
  EXPECT_EQ(Seqs(db.ledger->Offers("beta", 0, 100)), (std::vector<uint64_t>{1, 2}));

  // The work whose records went is issued again, from the hole on.
  Settlement next = IssueOrDie(*db.ledger, Draft("beta", "h4"));
  EXPECT_EQ(next.body.seq, 3u);
  EXPECT_EQ(next.body.prev_hash, records_[1].hash);
  auto reports = db.ledger->Verify(nullptr);
  ASSERT_TRUE(reports.ok());
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].records, 3u);
  EXPECT_FALSE((*reports)[0].first_break.has_value()) << (*reports)[0].first_break->problem;

  // The drop itself is durable.
  db.Close();
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  EXPECT_EQ(Seqs(ReadChains(*db.ledger)["alpha/beta"]), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(GetOrDie(*db.ledger, records_[4].body.id), std::nullopt);
}

TEST_F(TornTailTest, AHoleBeforeAnOfferedRecordIsKeptAndReported) {
  ASSERT_NO_FATAL_FAILURE(IssueFiveAndLoseThird(4));
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  for (int i : {0, 1, 3, 4}) {
    EXPECT_EQ(GetOrDie(*db.ledger, records_[i].body.id), records_[i]) << "h" << i + 1;
  }
  EXPECT_EQ(GetOrDie(*db.ledger, records_[2].body.id), std::nullopt);
  EXPECT_EQ(db.ledger->Head("alpha", "beta"), std::make_pair(uint64_t{6}, records_[4].hash));
  auto reports = db.ledger->Verify(nullptr);
  ASSERT_TRUE(reports.ok()) << reports.status().ToString();
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].records, 4u);
  ASSERT_TRUE((*reports)[0].first_break.has_value());
  EXPECT_EQ((*reports)[0].first_break->seq, 3u);
  EXPECT_NE((*reports)[0].first_break->problem.find("missing record 3"), std::string::npos)
      << (*reports)[0].first_break->problem;
}

// ---- 5. Signing -------------------------------------------------------------------------------

TEST_F(LedgerTest, OffersAreSignedOnceStoredAndVerifiable) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  for (int i = 1; i <= 3; ++i) IssueOrDie(*db.ledger, Draft("beta", "h" + std::to_string(i)));
  std::vector<Settlement> offers = ReadRange(*db.ledger, "beta", 3);
  ASSERT_EQ(offers.size(), 3u);
  ASSERT_TRUE(db.ledger->SignOffers(offers).ok());
  const core::Time now = core::SystemClock().Now();
  for (const Settlement& s : offers) {
    ASSERT_FALSE(s.payee_sig.empty()) << s.body.seq;
    EXPECT_EQ(s.payee_cert, alpha_.cert_id);
    EXPECT_EQ(s.state, SettlementState::kOffered);
    EXPECT_EQ(AtOrDie(*db.ledger, "beta", s.body.seq), s) << "stored signed";
    auto raw = federation::Base64Decode(s.payee_sig);
    ASSERT_TRUE(raw.has_value());
    core::Status st = verifier_->VerifySignature("alpha", alpha_.pem,
                                                 federation::CanonicalBytes(s.body), *raw, now);
    EXPECT_TRUE(st.ok()) << st.ToString();
    // Over this body only.
    SettlementBody other = s.body;
    other.amount = core::Money::Fen(other.amount.fen() + 1);
    EXPECT_FALSE(
        verifier_
            ->VerifySignature("alpha", alpha_.pem, federation::CanonicalBytes(other), *raw, now)
            .ok());
  }

  // Again, with the signed copies and with a fresh read: the signatures stay.
  std::vector<Settlement> same = offers;
  ASSERT_TRUE(db.ledger->SignOffers(same).ok());
  EXPECT_EQ(same, offers);
  std::vector<Settlement> reread = ReadRange(*db.ledger, "beta", 3);
  EXPECT_EQ(reread, offers);
  ASSERT_TRUE(db.ledger->SignOffers(reread).ok());
  EXPECT_EQ(reread, offers);
  for (const Settlement& s : offers) EXPECT_EQ(AtOrDie(*db.ledger, "beta", s.body.seq), s);

  // Still signed, with the same signature, after a restart (and listed as offers then).
  db.Close();
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  EXPECT_EQ(db.ledger->Offers("beta", 0, 100), offers);
}

// A second offer round that read the offers before the first one stored its signatures
// (an unsigned copy) must not sign again: the payer may already hold, and countersign, the
// first signature, and RecordAnswer refuses an answer whose payee_sig is not the stored one.
TEST_F(LedgerTest, SigningAStaleUnsignedCopyKeepsTheStoredSignature) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  IssueOrDie(*db.ledger, Draft("beta", "h1"));
  std::vector<Settlement> first = ReadRange(*db.ledger, "beta", 1);
  ASSERT_EQ(first.size(), 1u);
  std::vector<Settlement> stale = first;  // read before the first round signed
  ASSERT_TRUE(db.ledger->SignOffers(first).ok());

  ASSERT_TRUE(db.ledger->SignOffers(stale).ok());
  EXPECT_EQ(AtOrDie(*db.ledger, "beta", 1)->payee_sig, first[0].payee_sig)
      << "the stored signature changed after it was offered";

  // The payer's answer to the first round's offer is then still accepted.
  core::Status st = Await([&](Ledger::Done done) {
    db.ledger->RecordAnswer(Agree(first[0], beta_), beta_.pem, std::move(done));
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// ---- 6. Offers and answers --------------------------------------------------------------------

TEST_F(LedgerTest, AnswersReplaceOffers) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  for (int i = 1; i <= 3; ++i) IssueOrDie(*db.ledger, Draft("beta", "b" + std::to_string(i)));
  IssueOrDie(*db.ledger, Draft("gamma", "g1"));
  EXPECT_EQ(db.ledger->PayersWithOffers(), (std::vector<std::string>{"beta", "gamma"}));
  EXPECT_EQ(Seqs(db.ledger->Offers("beta", 0, 100)), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Seqs(db.ledger->Offers("beta", 2, 1)), (std::vector<uint64_t>{2}));
  EXPECT_TRUE(db.ledger->Offers("delta", 0, 100).empty());

  std::vector<Settlement> offers = db.ledger->Offers("beta", 0, 100);
  ASSERT_EQ(offers.size(), 3u);
  ASSERT_TRUE(db.ledger->SignOffers(offers).ok());
  clock_.Advance(std::chrono::seconds(30));
  const Settlement answer = Agree(offers[0], beta_);
  core::Status st = Await(
      [&](Ledger::Done done) { db.ledger->RecordAnswer(answer, beta_.pem, std::move(done)); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Seqs(db.ledger->Offers("beta", 0, 100)), (std::vector<uint64_t>{2, 3}));
  std::optional<Settlement> stored = AtOrDie(*db.ledger, "beta", 1);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->state, SettlementState::kAgreed);
  EXPECT_EQ(stored->payer_sig, answer.payer_sig);
  EXPECT_EQ(stored->payer_cert, beta_.cert_id);
  EXPECT_EQ(stored->payee_sig, offers[0].payee_sig);
  EXPECT_EQ(stored->body, offers[0].body);
  EXPECT_EQ(stored->updated_at, clock_.Now());
  auto payer_pem = db.ledger->Certificate(beta_.cert_id);
  ASSERT_TRUE(payer_pem.ok());
  EXPECT_EQ(*payer_pem, std::optional<std::string>(beta_.pem));

  // The same answer again (a retried response) is fine and changes nothing.
  st = Await(
      [&](Ledger::Done done) { db.ledger->RecordAnswer(answer, beta_.pem, std::move(done)); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(AtOrDie(*db.ledger, "beta", 1), stored);

  // An answer about another body is refused, and the offer stays.
  Settlement changed = Agree(offers[1], beta_);
  changed.body.amount = core::Money::Fen(1);
  st = Await(
      [&](Ledger::Done done) { db.ledger->RecordAnswer(changed, beta_.pem, std::move(done)); });
  EXPECT_EQ(st.code(), core::Code::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(AtOrDie(*db.ledger, "beta", 2), offers[1]);
  EXPECT_EQ(Seqs(db.ledger->Offers("beta", 0, 100)), (std::vector<uint64_t>{2, 3}));

  // A different answer to the answered record is refused too.
  Settlement disputed = offers[0];
  disputed.state = SettlementState::kDisputed;
  disputed.dispute_reason = "no such job here";
  st = Await(
      [&](Ledger::Done done) { db.ledger->RecordAnswer(disputed, beta_.pem, std::move(done)); });
  EXPECT_EQ(st.code(), core::Code::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(AtOrDie(*db.ledger, "beta", 1), stored);

  // No such record.
  Settlement missing = answer;
  missing.body.seq = 99;
  st = Await(
      [&](Ledger::Done done) { db.ledger->RecordAnswer(missing, beta_.pem, std::move(done)); });
  EXPECT_EQ(st.code(), core::Code::kNotFound) << st.ToString();

  // A disputed answer also ends the offer; a payer with no offer left is not listed.
  std::vector<Settlement> gamma = db.ledger->Offers("gamma", 0, 100);
  ASSERT_EQ(gamma.size(), 1u);
  ASSERT_TRUE(db.ledger->SignOffers(gamma).ok());
  Settlement dispute = gamma[0];
  dispute.state = SettlementState::kDisputed;
  dispute.payer_version = gamma[0].body;
  dispute.payer_version->amount = core::Money::Fen(1);
  dispute.disputed_fields = {"amount_fen"};
  dispute.dispute_reason = "fields differ: amount_fen";
  st = Await([&](Ledger::Done done) { db.ledger->RecordAnswer(dispute, "", std::move(done)); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(db.ledger->PayersWithOffers(), std::vector<std::string>{"beta"});
  EXPECT_EQ(AtOrDie(*db.ledger, "gamma", 1)->state, SettlementState::kDisputed);

  // The offers are rebuilt from the states on open.
  db.Close();
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  EXPECT_EQ(db.ledger->PayersWithOffers(), std::vector<std::string>{"beta"});
  EXPECT_EQ(Seqs(db.ledger->Offers("beta", 0, 100)), (std::vector<uint64_t>{2, 3}));
}

// ---- 7. Accepting (payer side) ----------------------------------------------------------------

class AcceptTest : public LedgerTest {
 protected:
  // alpha's record `seq` to beta after `prev`, signed by alpha and countersigned by beta.
  Settlement Offered(const std::string& hold, uint64_t seq, const std::string& prev_hash) {
    SettlementBody b = Draft("beta", hold);
    b.seq = seq;
    b.prev_hash = prev_hash;
    b.issued_at = kNow;
    Settlement s;
    s.body = b;
    s.hash = federation::BodyHash(b);
    s.payee_cert = alpha_.cert_id;
    s.payee_sig = alpha_.Sign(federation::CanonicalBytes(b));
    s.updated_at = kNow;
    return Agree(s, beta_);
  }

  core::Status AcceptAll(Ledger& ledger, std::vector<Settlement> records) {
    return Await(
        [&](Ledger::Done done) { ledger.Accept(std::move(records), alpha_.pem, std::move(done)); });
  }
};

TEST_F(AcceptTest, RecordsMustArriveAsTheNextOfTheirChain) {
  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("b", beta_, &db));
  Ledger& ledger = *db.ledger;
  EXPECT_EQ(ledger.Head("alpha", "beta"),
            std::make_pair(uint64_t{1}, std::string(federation::kGenesisHash)));

  const Settlement r1 = Offered("h1", 1, std::string(federation::kGenesisHash));
  ASSERT_TRUE(AcceptAll(ledger, {r1}).ok());
  EXPECT_EQ(ledger.Head("alpha", "beta"), std::make_pair(uint64_t{2}, r1.hash));
  EXPECT_EQ(GetOrDie(ledger, r1.body.id), r1);
  auto payee_pem = ledger.Certificate(alpha_.cert_id);
  ASSERT_TRUE(payee_pem.ok());
  EXPECT_EQ(*payee_pem, std::optional<std::string>(alpha_.pem));

  const Settlement r2 = Offered("h2", 2, r1.hash);
  const Settlement r3 = Offered("h3", 3, r2.hash);
  const Settlement r4 = Offered("h4", 4, r3.hash);

  // 3 when 2 is expected: refused, nothing stored.
  core::Status st = AcceptAll(ledger, {r3});
  EXPECT_EQ(st.code(), core::Code::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(AtOrDie(ledger, "beta", 3), std::nullopt);
  EXPECT_EQ(GetOrDie(ledger, r3.body.id), std::nullopt);
  EXPECT_EQ(ledger.Head("alpha", "beta"), std::make_pair(uint64_t{2}, r1.hash));

  // A good record followed by a gap: the whole batch is refused.
  st = AcceptAll(ledger, {r2, r4});
  EXPECT_EQ(st.code(), core::Code::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(AtOrDie(ledger, "beta", 2), std::nullopt);
  EXPECT_EQ(GetOrDie(ledger, r2.body.id), std::nullopt);
  EXPECT_EQ(ledger.Head("alpha", "beta"), std::make_pair(uint64_t{2}, r1.hash));

  // The right number with the wrong link: refused.
  Settlement unlinked = Offered("h2", 2, r3.hash);
  st = AcceptAll(ledger, {unlinked});
  EXPECT_EQ(st.code(), core::Code::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(AtOrDie(ledger, "beta", 2), std::nullopt);

  ASSERT_TRUE(AcceptAll(ledger, {r2, r3}).ok());
  EXPECT_EQ(ledger.Head("alpha", "beta"), std::make_pair(uint64_t{4}, r3.hash));

  // An id already stored, even as the next of the chain: kConflict, nothing stored.
  Settlement reused = Offered("h1", 4, r3.hash);
  ASSERT_EQ(reused.body.id, r1.body.id);
  st = AcceptAll(ledger, {reused});
  EXPECT_EQ(st.code(), core::Code::kConflict) << st.ToString();
  EXPECT_EQ(AtOrDie(ledger, "beta", 4), std::nullopt);
  EXPECT_EQ(GetOrDie(ledger, r1.body.id), r1);
  // The same id twice in one batch.
  Settlement twice = Offered("h4", 5, r4.hash);
  twice.body.id = r4.body.id;
  st = AcceptAll(ledger, {r4, twice});
  EXPECT_EQ(st.code(), core::Code::kConflict) << st.ToString();
  EXPECT_EQ(AtOrDie(ledger, "beta", 4), std::nullopt);
  EXPECT_EQ(ledger.Head("alpha", "beta"), std::make_pair(uint64_t{4}, r3.hash));

  // Not owed by us.
  Settlement not_ours = r4;
  not_ours.body.payer = "gamma";
  st = AcceptAll(ledger, {not_ours});
  EXPECT_EQ(st.code(), core::Code::kInvalidArgument) << st.ToString();

  // What was accepted is a good chain with good signatures, also after a restart, and the
  // payer has no offers of its own.
  db.Close();
  ASSERT_NO_FATAL_FAILURE(OpenLedger("b", beta_, &db));
  EXPECT_EQ(db.ledger->Head("alpha", "beta"), std::make_pair(uint64_t{4}, r3.hash));
  EXPECT_TRUE(db.ledger->PayersWithOffers().empty());
  auto reports = db.ledger->Verify(Check());
  ASSERT_TRUE(reports.ok()) << reports.status().ToString();
  ASSERT_EQ(reports->size(), 1u);
  EXPECT_EQ((*reports)[0].records, 3u);
  EXPECT_FALSE((*reports)[0].first_break.has_value()) << (*reports)[0].first_break->problem;
}

// ---- 8. Verify --------------------------------------------------------------------------------

TEST_F(LedgerTest, VerifyChecksSignaturesAndFindsATamperedRecord) {
  std::vector<Settlement> agreed;
  {
    Db db;
    ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
    for (int i = 1; i <= 4; ++i) IssueOrDie(*db.ledger, Draft("beta", "h" + std::to_string(i)));
    IssueOrDie(*db.ledger, Draft("gamma", "g1"));  // offered, unsigned: nothing to check
    std::vector<Settlement> offers = ReadRange(*db.ledger, "beta", 4);
    ASSERT_EQ(offers.size(), 4u);
    ASSERT_TRUE(db.ledger->SignOffers(offers).ok());
    for (const Settlement& offer : offers) {
      agreed.push_back(Agree(offer, beta_));
      core::Status st = Await([&](Ledger::Done done) {
        db.ledger->RecordAnswer(agreed.back(), beta_.pem, std::move(done));
      });
      ASSERT_TRUE(st.ok()) << st.ToString();
    }

    int checks = 0;
    Ledger::SignatureCheck counting = [&](std::string_view center, std::string_view pem,
                                          std::string_view bytes, std::string_view sig,
                                          core::Time at) {
      ++checks;
      return Check()(center, pem, bytes, sig, at);
    };
    auto reports = db.ledger->Verify(counting);
    ASSERT_TRUE(reports.ok()) << reports.status().ToString();
    ASSERT_EQ(reports->size(), 2u);
    for (const Ledger::ChainReport& r : *reports) {
      EXPECT_FALSE(r.first_break.has_value()) << r.payer << ": " << r.first_break->problem;
    }
    EXPECT_EQ(checks, 8) << "payee and payer signature of each agreed record";

    // Each signature is checked at the time the record was signed, not now: ten years on,
    // when every certificate has expired, a check at that time fails where Verify passed.
    const core::Time decade_on = core::SystemClock().Now() + std::chrono::hours(24 * 3650);
    auto expired = db.ledger->Verify([&](std::string_view center, std::string_view pem,
                                         std::string_view bytes, std::string_view sig, core::Time) {
      return Check()(center, pem, bytes, sig, decade_on);
    });
    ASSERT_TRUE(expired.ok());
    ASSERT_TRUE((*expired)[0].first_break.has_value());
    EXPECT_NE((*expired)[0].first_break->problem.find("expired"), std::string::npos)
        << (*expired)[0].first_break->problem;

    // A check that refuses shows up as a break at the first signed record.
    auto refused = db.ledger->Verify(
        [](std::string_view, std::string_view, std::string_view, std::string_view, core::Time) {
          return core::Status(core::Code::kInvalidArgument, "refused");
        });
    ASSERT_TRUE(refused.ok());
    ASSERT_FALSE(refused->empty());
    ASSERT_TRUE((*refused)[0].first_break.has_value());
    EXPECT_EQ((*refused)[0].first_break->seq, 1u);
    db.Close();
  }

  // Record 3's amount is changed behind the ledger's back.
  ASSERT_NO_FATAL_FAILURE(RawEdit("a", [&](storage::Store& store) {
    const std::string key = EntryKey("alpha", "beta", 3);
    auto value = store.Get(Cf::kLedger, key);
    ASSERT_TRUE(value.ok() && value->has_value());
    json::value v = json::parse(**value);
    json::object& body = v.as_object()["body"].as_object();
    ASSERT_EQ(body["amount_fen"].as_int64(), agreed[2].body.amount.fen());
    body["amount_fen"] = agreed[2].body.amount.fen() + 100'000;
    storage::Batch batch;
    batch.Put(Cf::kLedger, key, json::serialize(v));
    ASSERT_TRUE(store.Write(std::move(batch)).ok());
  }));

  Db db;
  ASSERT_NO_FATAL_FAILURE(OpenLedger("a", alpha_, &db));
  EXPECT_EQ(AtOrDie(*db.ledger, "beta", 3)->body.amount.fen(),
            agreed[2].body.amount.fen() + 100'000);
  for (const Ledger::SignatureCheck& check : {Check(), Ledger::SignatureCheck()}) {
    auto reports = db.ledger->Verify(check);
    ASSERT_TRUE(reports.ok()) << reports.status().ToString();
    ASSERT_EQ(reports->size(), 2u);
    const Ledger::ChainReport& beta = (*reports)[0];
    ASSERT_EQ(beta.payer, "beta");
    EXPECT_EQ(beta.records, 4u);
    ASSERT_TRUE(beta.first_break.has_value());
    EXPECT_EQ(beta.first_break->seq, 3u);
    EXPECT_NE(beta.first_break->problem.find("hash"), std::string::npos)
        << beta.first_break->problem;
    EXPECT_FALSE((*reports)[1].first_break.has_value()) << "gamma's chain is untouched";
  }
}

}  // namespace
}  // namespace edwc::gateway
