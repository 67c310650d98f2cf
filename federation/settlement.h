// Settlements (DESIGN.md section 5, "Settlements"): what one center owes another for work
// done, as records both sides sign and keep in the same hash-chained ledger.
//
// The flow, driven by gateway/settlement_service:
//  1. When a job or transfer ends, the center that served it (the PAYEE) builds the
//     settlement's body (ComputeSettlement, EgressSettlement), gives it the next sequence
//     number of its chain towards the PAYER and the hash of the chain's previous body,
//     signs CanonicalBytes(body) and stores it durably ("offered").
//  2. It offers it to the payer. The payer builds its own version from its own records
//     (ExpectCompute, ExpectEgress); when DifferingFields is empty it countersigns
//     CountersignBytes (the body and the payee's signature) and stores the record
//     ("agreed"), else it stores a dispute with both versions ("disputed"). Durable first,
//     then it answers; the payee stores the answer.
//
// Chains: one per ordered pair (payee, payer). Sequence numbers start at 1 with no gaps;
// record n carries prev_hash = BodyHash(record n-1) (kGenesisHash for n = 1). Both sides
// hold the same chain. A gap is a missing record; a second record under a used number is
// refused (CheckChain, and the payer's acceptance rule in the driver).
//
// Days: reconciliation and statements group records by the China Standard Time (UTC+8)
// date of period_end ("2026-11-27"). Periods are [from, to) on period_end.
//
// Everything here is pure: no I/O, no clock, no threads. Thread-safe (no shared state).
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::federation {

struct HoldRecord;
struct JobRecord;
struct TransferRecord;

enum class SettlementKind { kCompute, kEgress };
std::string_view SettlementKindName(SettlementKind kind);  // "compute", "egress"
std::optional<SettlementKind> SettlementKindFromName(std::string_view name);

enum class SettlementState {
  kOffered,   // payee: signed and stored, not yet answered by the payer
  kAgreed,    // both signatures
  kDisputed,  // the payer's version differs: both versions kept
};
std::string_view SettlementStateName(SettlementState state);  // "offered", ...
std::optional<SettlementState> SettlementStateFromName(std::string_view name);

// 64 zeros: the prev_hash of a chain's first record.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// What the payee signs. Every field is covered by the signature and the chain hash.
struct SettlementBody {
  std::string id;         // SettlementId(kind, source)
  uint64_t seq = 0;       // in the chain payee -> payer, from 1
  std::string prev_hash;  // BodyHash of record seq-1 of the chain, or kGenesisHash
  std::string payee;      // center that did the work (is owed)
  std::string payer;      // center that asked for it (owes)
  SettlementKind kind = SettlementKind::kCompute;
  std::string source;          // compute: the hold id; egress: "<transfer id>/<sender>"
  std::string job;             // compute: the payer's job id; egress: the transfer id
  std::string model;           // compute: accelerator model id; egress: empty
  int32_t devices = 0;         // compute
  int64_t accelerator_ms = 0;  // compute: devices x (period_end - period_start)
  int64_t bytes = 0;           // egress: bytes sent
  // compute: normalised work, dense FP16 PFLOPS-hours x 10^6:
  // round_half_away(accelerator_ms x fp16_dense_tflops / 3600); 0 for unknown models.
  int64_t pflops_microhours = 0;
  // compute: fen per device-hour at period_start (firm schedule x surge); egress: fen per
  // GB (10^9 bytes). For the record: `amount` is what is owed.
  core::Money unit_price;
  core::Money amount;  // fen, >= 0
  core::Time period_start{};
  core::Time period_end{};
  core::Time issued_at{};
  bool operator==(const SettlementBody&) const = default;
};

// A stored record: the body, its signatures and the state of the exchange.
struct Settlement {
  SettlementBody body;
  std::string hash;  // BodyHash(body)
  SettlementState state = SettlementState::kOffered;
  std::string payee_cert;  // SHA-256 hex of the payee's certificate PEM (kept apart)
  std::string payee_sig;   // base64 ECDSA P-256/SHA-256 over CanonicalBytes(body)
  std::string payer_cert;  // agreed: SHA-256 hex of the payer's certificate PEM
  std::string payer_sig;   // agreed: base64 over CountersignBytes(body, payee_sig)
  // disputed: the payer's own version and the fields that differ (DifferingFields).
  std::optional<SettlementBody> payer_version;
  std::vector<std::string> disputed_fields;
  std::string dispute_reason;  // e.g. "no such job here", or "fields differ: amount"
  core::Time updated_at{};
  bool operator==(const Settlement&) const = default;
};

// "compute/<hold id>" or "egress/<transfer id>/<sender>".
std::string SettlementId(SettlementKind kind, std::string_view source);

// Deterministic bytes of the body: its JSON (ToJson below) serialised compactly, keys in
// the order of the struct, times as integer ms since the epoch.
std::string CanonicalBytes(const SettlementBody& body);
// The payer countersigns the body and the payee's signature: CanonicalBytes(body) + "\n" +
// payee_sig.
std::string CountersignBytes(const SettlementBody& body, std::string_view payee_sig);
// SHA-256 hex of CanonicalBytes(body).
std::string BodyHash(const SettlementBody& body);

// The China Standard Time date of `t`: "YYYY-MM-DD".
std::string ChinaDay(core::Time t);
// The start (00:00 UTC+8) of a China date "YYYY-MM-DD"; kInvalidArgument otherwise.
core::Result<core::Time> ChinaDayStart(std::string_view day);

// JSON. SettlementBody: {"id","seq","prev_hash","payee","payer","kind","source","job",
// "model","devices","accelerator_ms","bytes","pflops_microhours","unit_price_fen",
// "amount_fen","period_start_ms","period_end_ms","issued_at_ms"}. Settlement adds
// {"hash","state","payee_cert","payee_sig","payer_cert","payer_sig","payer_version",
// "disputed_fields","dispute_reason","updated_at_ms"} around {"body": ...}.
// FromJson is strict: unknown or missing fields, wrong types and out-of-range values
// (negative amounts, seq 0, bad hashes) are kInvalidArgument naming the field.
boost::json::object ToJson(const SettlementBody& body);
core::Result<SettlementBody> SettlementBodyFromJson(const boost::json::value& value);
boost::json::object ToJson(const Settlement& settlement);
core::Result<Settlement> SettlementFromJson(const boost::json::value& value);

// For people and finance tools: the body's fields plus state, amounts in yuan
// ("amount_cny": "12.34"), quantities as decimals ("accelerator_seconds": "3600.000",
// "pflops_hours": "0.148000"), times in RFC 3339, "day", and "direction" from `self`'s
// point of view ("receivable" when self is the payee, else "payable").
boost::json::object ToView(const Settlement& settlement, std::string_view self);

// ---- Building and checking ------------------------------------------------------------

// The payee's body for a hold that ran (state succeeded, failed or cancelled with usage),
// seq/prev_hash/issued_at left for the driver. kFailedPrecondition when it has no usage.
// unit_price: the firm schedule's price at usage.started x surge / 1000, rounded once.
core::Result<SettlementBody> ComputeSettlement(const HoldRecord& hold, std::string_view payee);

// The payee's body for one leg of a transfer that it sent: `bytes` at `per_gb`.
struct EgressClaim {
  std::string transfer;  // transfer id
  std::string sender;    // the payee
  std::string receiver;  // the payer: the center that pulled the bytes
  std::string dataset;   // name at the sender (a relay's staged copy: "<id>.relay")
  int64_t bytes = 0;
  core::Time started{};
  core::Time finished{};
  bool operator==(const EgressClaim&) const = default;
};
boost::json::object ToJson(const EgressClaim& claim);
core::Result<EgressClaim> EgressClaimFromJson(const boost::json::value& value);
core::Result<SettlementBody> EgressSettlement(const EgressClaim& claim, core::Money per_gb);

// The payer's own version of `offered`, from its own record: a copy of `offered` with every
// economic field recomputed from `job` (its firm terms, count, model and the center it
// ran on) and the offered period. kNotFound when `offered.source` is not an attempt of
// `job`; kFailedPrecondition when the job has no firm terms.
core::Result<SettlementBody> ExpectCompute(const SettlementBody& offered, const JobRecord& job);
// The same from the receiver's transfer record: bytes = the manifest's size, amount = the
// egress of the plan's leg from offered.payee to `self`. kNotFound when no such leg.
core::Result<SettlementBody> ExpectEgress(const SettlementBody& offered,
                                          const TransferRecord& transfer, std::string_view self);

// The fields of two bodies that differ, in struct order, by their JSON names
// ("amount_fen", "devices", ...). Empty when equal.
std::vector<std::string> DifferingFields(const SettlementBody& a, const SettlementBody& b);

// ---- Chains ----------------------------------------------------------------------------

struct ChainBreak {
  uint64_t seq = 0;     // the first record at fault (or the missing number)
  std::string problem;  // "missing record 4 (next is 5)", "prev_hash does not match record
                        // 3", "hash does not match the body", "record 2 stored twice",
                        // "first record is 2", "payee/payer differ from the chain's"
  bool operator==(const ChainBreak&) const = default;
};

// Walks one chain given in stored order (ascending seq). nullopt when it holds: seqs
// 1..n without gaps or repeats, hash == BodyHash(body), prev_hash links, one payee and
// payer throughout. Signatures are the driver's to check (it has the certificates).
std::optional<ChainBreak> CheckChain(const std::vector<Settlement>& chain);

// ---- Finance ---------------------------------------------------------------------------

// Net position of `self` with each counterparty over agreed records: receivable (self is
// payee) minus payable. Disputed and offered records are counted apart.
struct Balance {
  core::Money receivable;
  core::Money payable;
  core::Money net;  // receivable - payable
  core::Money disputed_receivable;
  core::Money disputed_payable;
  core::Money pending_receivable;  // offered, not yet answered
  int64_t agreed = 0;              // records counted in receivable/payable
  int64_t disputed = 0;
  int64_t pending = 0;
  bool operator==(const Balance&) const = default;
};
// kInvalidArgument on int64 overflow.
core::Result<std::map<std::string, Balance>> Balances(const std::vector<Settlement>& records,
                                                      std::string_view self);

// Per-day digest of the records between two centers (both directions), agreed and
// disputed only: count, total amount, and SHA-256 hex over the sorted lines
// "<id> <hash> <state>\n".
struct DayDigest {
  std::string day;
  int64_t count = 0;
  core::Money total;
  std::string digest;
  bool operator==(const DayDigest&) const = default;
};
std::vector<DayDigest> DigestByDay(const std::vector<Settlement>& records);  // by day
boost::json::object ToJson(const DayDigest& d);
core::Result<DayDigest> DayDigestFromJson(const boost::json::value& value);

enum class DiscrepancyKind {
  kMissingHere,      // the peer has it, we do not
  kMissingThere,     // we have it, the peer does not
  kAmountMismatch,   // same id, amount_fen differs
  kContentMismatch,  // same id and amount, another field (or the state) differs
  kDuplicate,        // one side has the same id twice, or the same (kind, source) under
                     // two seqs of one chain
};
std::string_view DiscrepancyKindName(DiscrepancyKind kind);  // "missing_here", ...

struct Discrepancy {
  DiscrepancyKind kind = DiscrepancyKind::kMissingHere;
  std::string id;
  std::vector<std::string> fields;  // mismatches: DifferingFields (and "state")
  std::optional<Settlement> ours;
  std::optional<Settlement> theirs;
};
// Compares the records of one day (or any set) from both sides. Sorted by id, then kind.
std::vector<Discrepancy> CompareRecords(const std::vector<Settlement>& ours,
                                        const std::vector<Settlement>& theirs);
boost::json::object ToJson(const Discrepancy& d, std::string_view self);

// What a center reports for netting: its net position with each counterparty over agreed
// records of the period (Balance::net).
struct Statement {
  std::string center;
  std::map<std::string, core::Money> net;  // by counterparty
  bool operator==(const Statement&) const = default;
};

struct Payment {
  std::string from;  // debtor
  std::string to;    // creditor
  core::Money amount;
  bool operator==(const Payment&) const = default;
};

struct Netting {
  // Every center's multilateral net position (positive: it is owed). Sums to exactly 0.
  std::map<std::string, core::Money> positions;
  // Settles every position: the fewest payments (exact for up to kExactNettingLimit
  // non-zero positions, else at most n-1 by greedy matching), sorted by from, to.
  std::vector<Payment> payments;
  // Pairs whose two statements disagree: "a/b: a says +1200, b says -1100". The pair's
  // figure is then the payee side's (positive net) report.
  std::vector<std::string> disagreements;
};
inline constexpr size_t kExactNettingLimit = 18;

// Each pair's figure is taken once: from both statements when they agree, else as said
// above; from the one statement when only one center reported. kInvalidArgument on
// overflow.
core::Result<Netting> Net(const std::vector<Statement>& statements);
// The payments alone, for given positions that sum to 0 (kInvalidArgument otherwise).
core::Result<std::vector<Payment>> MinimalPayments(
    const std::map<std::string, core::Money>& positions);

// ---- Export ----------------------------------------------------------------------------

// CSV (RFC 4180, "\r\n" line ends, fields quoted when they hold , " or line breaks), one
// line per record from `self`'s point of view, with a header line:
// id,day,direction,counterparty,kind,state,source,job,model,devices,accelerator_seconds,
// bytes,pflops_hours,unit_price_cny,amount_cny,amount_fen,period_start,period_end,seq,hash
std::string SettlementsCsv(const std::vector<Settlement>& records, std::string_view self);

// An invoice-ready statement of `self` with one counterparty over [from, to): agreed
// records as lines, totals per kind and direction, and the net; disputed records listed
// apart and not in the totals. Totals are exact sums of the lines' amount_fen.
struct Invoice {
  std::string self;
  std::string counterparty;
  core::Time from{};
  core::Time to{};
  std::vector<Settlement> lines;     // agreed, by period_end then id
  std::vector<Settlement> disputed;  // by period_end then id
  core::Money receivable_compute, receivable_egress, payable_compute, payable_egress;
  core::Money receivable, payable, net;
};
core::Result<Invoice> MakeInvoice(const std::vector<Settlement>& records, std::string_view self,
                                  std::string_view counterparty, core::Time from, core::Time to);
boost::json::object ToJson(const Invoice& invoice);
// The lines as SettlementsCsv, then a blank line and "total,<name>,<cny>,<fen>" lines for
// each total above.
std::string InvoiceCsv(const Invoice& invoice);

}  // namespace edwc::federation
