#include "cli/ledger_format.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace edwc::cli {
namespace {

namespace json = boost::json;

// Two views as federation::ToView renders them for center "east": a compute settlement
// east is owed (8 x h20 for 30 minutes) and a disputed egress one east owes.
constexpr char kComputeView[] = R"({
  "id":"compute/hold_01JDZ6Q3W8N4V5T7X9Y2K3M4P5","day":"2026-11-27","direction":"receivable",
  "counterparty":"west","state":"agreed","seq":42,
  "prev_hash":"1111111111111111111111111111111111111111111111111111111111111111",
  "hash":"3f2a9c1b00000000000000000000000000000000000000000000000000000000",
  "payee":"east","payer":"west","kind":"compute","source":"hold_01JDZ6Q3W8N4V5T7X9Y2K3M4P5",
  "job":"job_01JDZ6Q3W8N4V5T7X9Y2K3M4P6","model":"h20","devices":8,
  "accelerator_seconds":"14400.000","bytes":0,"pflops_hours":"0.592000",
  "unit_price_fen":1850,"unit_price_cny":"18.50","amount_fen":7400,"amount_cny":"74.00",
  "period_start":"2026-11-27T01:00:00.000Z","period_end":"2026-11-27T01:30:00.000Z",
  "issued_at":"2026-11-27T01:30:02.000Z"})";

constexpr char kEgressView[] = R"({
  "id":"egress/tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P7/north","day":"2026-11-28",
  "direction":"payable","counterparty":"north","state":"disputed","seq":7,
  "prev_hash":"2222222222222222222222222222222222222222222222222222222222222222",
  "hash":"4444444444444444444444444444444444444444444444444444444444444444",
  "payee":"north","payer":"east","kind":"egress",
  "source":"tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P7/north","job":"tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P7",
  "model":"","devices":0,"accelerator_seconds":"0.000","bytes":1070000000,
  "pflops_hours":"0.000000","unit_price_fen":100,"unit_price_cny":"1.00",
  "amount_fen":107,"amount_cny":"1.07",
  "period_start":"2026-11-27T23:00:00.000Z","period_end":"2026-11-27T23:10:00.000Z",
  "issued_at":"2026-11-27T23:10:01.000Z",
  "disputed_fields":["bytes","amount_fen"],"dispute_reason":"fields differ: bytes, amount_fen"})";

json::value Parse(const std::string& text) { return json::parse(text); }

TEST(LedgerFormatTest, QuantityOfComputeAndEgress) {
  EXPECT_EQ(QuantityText(Parse(kComputeView)), "8 x h20, 0.50 h");
  EXPECT_EQ(QuantityText(Parse(kEgressView)), "1.07 GB");
  EXPECT_EQ(QuantityText(Parse(R"({"kind":"egress","bytes":999})")), "999 B");
  EXPECT_EQ(QuantityText(Parse(R"({"kind":"egress","bytes":2500000})")), "2.50 MB");
  EXPECT_EQ(QuantityText(Parse(R"({"kind":"egress","bytes":1005000})")), "1.01 MB");
  EXPECT_EQ(QuantityText(Parse(R"({"kind":"egress","bytes":3000000000000})")), "3.00 TB");
  // 3 devices for 1234.5 s each: 0.3429 h.
  EXPECT_EQ(
      QuantityText(Parse(
          R"({"kind":"compute","model":"a800","devices":3,"accelerator_seconds":"3703.500"})")),
      "3 x a800, 0.34 h");
  // 486 s each is 0.135 h exactly: half rounds away from zero.
  EXPECT_EQ(QuantityText(Parse(
                R"({"kind":"compute","model":"a800","devices":3,"accelerator_seconds":"1458"})")),
            "3 x a800, 0.14 h");
  EXPECT_EQ(QuantityText(Parse(
                R"({"kind":"compute","model":"a800","devices":0,"accelerator_seconds":"5400"})")),
            "a800, 1.50 device-h");
  EXPECT_EQ(QuantityText(Parse(R"({"kind":"compute","model":"a800","devices":2})")), "2 x a800");
  // Under 0.01 h per device, seconds: a short job does not read "0.00 h".
  EXPECT_EQ(QuantityText(Parse(
                R"({"kind":"compute","model":"h20","devices":4,"accelerator_seconds":"8.016"})")),
            "4 x h20, 2.0 s");
  EXPECT_EQ(QuantityText(Parse(R"({"kind":"compute","devices":2,"accelerator_seconds":"1e3"})")),
            "2 x -");
  EXPECT_EQ(QuantityText(Parse(R"({"kind":"storage"})")), "-");
  EXPECT_EQ(QuantityText(Parse("[]")), "-");
}

TEST(LedgerFormatTest, SettlementTable) {
  const std::string response =
      std::string(R"({"settlements":[)") + kComputeView + "," + kEgressView + R"(],"next":"c2"})";
  EXPECT_EQ(RenderSettlementList(Parse(response)),
            "DAY         ID                                          DIRECTION   COUNTERPARTY  "
            "KIND     QUANTITY         AMOUNT (CNY)  STATE\n"
            "2026-11-27  compute/hold_01JDZ6Q3W8N4V5T7X9Y2K3M4P5     receivable  west          "
            "compute  8 x h20, 0.50 h         74.00  agreed\n"
            "2026-11-28  egress/tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P7/north  payable     north         "
            "egress   1.07 GB                  1.07  disputed\n");
  EXPECT_EQ(RenderSettlementList(Parse(R"({"settlements":[]})")), "No settlements.\n");
}

TEST(LedgerFormatTest, ShowAgreedWithBothSignatures) {
  const std::string response = std::string(R"({"settlement":)") + kComputeView +
                               R"(,"record":{"body":{},"hash":"3f2a","state":"agreed",
      "payee_cert":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "payee_sig":"MEUCIQ==","payer_cert":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "payer_sig":"MEQCIA==","payer_version":null,"disputed_fields":[],"dispute_reason":"",
      "updated_at_ms":1795743002000}})";
  EXPECT_EQ(RenderSettlement(Parse(response)),
            "settlement:      compute/hold_01JDZ6Q3W8N4V5T7X9Y2K3M4P5\n"
            "state:           agreed\n"
            "direction:       receivable from west\n"
            "kind:            compute\n"
            "quantity:        8 x h20, 0.50 h (0.592000 PFLOPS-h)\n"
            "amount:          74.00 CNY\n"
            "unit price:      18.50 CNY per device-hour\n"
            "job:             job_01JDZ6Q3W8N4V5T7X9Y2K3M4P6\n"
            "source:          hold_01JDZ6Q3W8N4V5T7X9Y2K3M4P5\n"
            "day:             2026-11-27\n"
            "period:          2026-11-27T01:00:00.000Z to 2026-11-27T01:30:00.000Z\n"
            "issued:          2026-11-27T01:30:02.000Z\n"
            "chain:           east -> west, record 42\n"
            "hash:            3f2a9c1b00000000000000000000000000000000000000000000000000000000\n"
            "prev hash:       1111111111111111111111111111111111111111111111111111111111111111\n"
            "payee signature: present (east, certificate aaaaaaaa…)\n"
            "payer signature: present (west, certificate bbbbbbbb…)\n");
}

TEST(LedgerFormatTest, ShowDisputedWithThePayersAmount) {
  const std::string response = std::string(R"({"settlement":)") + kEgressView +
                               R"(,"record":{"state":"disputed","payee_cert":"cc",
      "payee_sig":"MEUCIQ==","payer_cert":"","payer_sig":"",
      "payer_version":{"id":"egress/tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P7/north","bytes":1000000000,
                       "amount_fen":100},
      "disputed_fields":["bytes","amount_fen"],"dispute_reason":"fields differ"}})";
  const std::string out = RenderSettlement(Parse(response));
  EXPECT_NE(out.find("direction:       payable to north\n"), std::string::npos) << out;
  EXPECT_NE(out.find("quantity:        1.07 GB\n"), std::string::npos) << out;
  EXPECT_NE(out.find("unit price:      1.00 CNY per GB\n"), std::string::npos) << out;
  EXPECT_NE(out.find("payee signature: present (north, certificate cc)\n"
                     "payer signature: missing\n"
                     "dispute:\n"
                     "  fields:          bytes, amount_fen\n"
                     "  reason:          fields differ: bytes, amount_fen\n"
                     "  payer's amount:  1.00 CNY\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("PFLOPS"), std::string::npos) << out;
}

TEST(LedgerFormatTest, ShowDisputedWithoutAPayerVersion) {
  json::value view = Parse(kEgressView);
  view.as_object().erase("disputed_fields");
  view.as_object().erase("dispute_reason");
  const json::value response = {{"settlement", view},
                                {"record",
                                 {{"payee_sig", "x"},
                                  {"payer_sig", ""},
                                  {"payer_version", nullptr},
                                  {"disputed_fields", json::array{}},
                                  {"dispute_reason", "no such transfer here"}}}};
  const std::string out = RenderSettlement(response);
  EXPECT_NE(out.find("dispute:\n"
                     "  reason:          no such transfer here\n"
                     "  payer's version: none\n"),
            std::string::npos)
      << out;
}

constexpr char kBalances[] = R"({"self":"east","balances":[
  {"counterparty":"north","receivable_fen":0,"receivable_cny":"0.00","payable_fen":1070,
   "payable_cny":"10.70","net_fen":-1070,"net_cny":"-10.70","disputed_receivable_fen":0,
   "disputed_payable_fen":107,"pending_receivable_fen":0,"agreed":3,"disputed":1,"pending":0},
  {"counterparty":"west","receivable_fen":1234500,"receivable_cny":"12345.00",
   "payable_fen":2000,"payable_cny":"20.00","net_fen":1232500,"net_cny":"12325.00",
   "disputed_receivable_fen":500,"disputed_payable_fen":250,"pending_receivable_fen":7400,
   "agreed":40,"disputed":2,"pending":1}],
  "total":{"receivable_fen":1234500,"receivable_cny":"12345.00","payable_fen":3070,
           "payable_cny":"30.70","net_fen":1231430,"net_cny":"12314.30"}})";

TEST(LedgerFormatTest, BalancesTableWithTotal) {
  EXPECT_EQ(RenderBalances(Parse(kBalances)),
            "balances of east in CNY: agreed records; NET > 0 is owed to east; disputed and "
            "pending (offered, unanswered) apart\n"
            "COUNTERPARTY  RECEIVABLE  PAYABLE       NET         DISPUTED    PENDING\n"
            "north               0.00    10.70    -10.70        -1.07 (1)       0.00\n"
            "west            12345.00    20.00  12325.00  +5.00/-2.50 (2)  74.00 (1)\n"
            "TOTAL           12345.00    30.70  12314.30      +5.00/-3.57      74.00\n");
}

TEST(LedgerFormatTest, BalancesWhenEmptyOrFenOnly) {
  EXPECT_EQ(RenderBalances(Parse(R"({"self":"east","balances":[],"total":{}})")),
            "balances of east in CNY: agreed records; NET > 0 is owed to east; disputed and "
            "pending (offered, unanswered) apart\n"
            "No settlements with any counterparty.\n");
  // An answer with fen only still shows yuan.
  const std::string out = RenderBalances(Parse(
      R"({"self":"east","balances":[{"counterparty":"west","receivable_fen":150,
          "payable_fen":0,"net_fen":150}],"total":{"receivable_fen":150,"payable_fen":0,
          "net_fen":150}})"));
  EXPECT_NE(out.find("west                1.50     0.00  1.50      0.00     0.00\n"),
            std::string::npos)
      << out;
}

TEST(LedgerFormatTest, VerifyOkAndBroken) {
  const json::value ok = Parse(R"({"ok":true,"chains":[
    {"payee":"east","payer":"west","records":42,
     "head_hash":"3f2a9c1b00000000000000000000000000000000000000000000000000000000","ok":true}]})");
  EXPECT_EQ(RenderVerify(ok),
            "ok  east -> west  42 records  head 3f2a9c1b…\n1 chain, all verified\n");
  EXPECT_TRUE(LedgerVerified(ok));

  const json::value broken = Parse(R"({"ok":false,"chains":[
    {"payee":"east","payer":"west","records":42,"head_hash":"3f2a","ok":true},
    {"payee":"west","payer":"east","records":9,"head_hash":"5b5b","ok":false,
     "break":{"seq":7,"problem":"prev_hash does not match record 6"}}]})");
  EXPECT_EQ(RenderVerify(broken),
            "ok  east -> west  42 records  head 3f2a\n"
            "BROKEN west -> east at record 7: prev_hash does not match record 6\n"
            "1 of 2 chains broken\n");
  EXPECT_FALSE(LedgerVerified(broken));

  // A chain that says it is broken fails even when the top level says ok.
  EXPECT_FALSE(LedgerVerified(Parse(R"({"ok":true,"chains":[{"ok":false}]})")));
  EXPECT_FALSE(LedgerVerified(Parse(R"({"chains":[]})")));
  const json::value empty = Parse(R"({"ok":true,"chains":[]})");
  EXPECT_TRUE(LedgerVerified(empty));
  EXPECT_EQ(RenderVerify(empty), "no chains: the ledger holds no settlements\n");
}

TEST(LedgerFormatTest, ReconcileWithDiscrepancies) {
  const std::string response =
      std::string(R"({"peer":"west","from":"2026-11-01T00:00:00.000+08:00",
    "to":"2026-12-01T00:00:00.000+08:00","matched":false,
    "days":[
      {"day":"2026-11-26","ours":{"day":"2026-11-26","count":2,"total_fen":300,"total_cny":"3.00",
        "digest":"aa"},"theirs":{"day":"2026-11-26","count":2,"total_fen":300,"total_cny":"3.00",
        "digest":"aa"},"match":true},
      {"day":"2026-11-27","ours":{"day":"2026-11-27","count":3,"total_fen":12000,
        "total_cny":"120.00","digest":"bb"},"theirs":{"day":"2026-11-27","count":2,
        "total_fen":10000,"total_cny":"100.00","digest":"cc"},"match":false},
      {"day":"2026-11-28","ours":null,"theirs":{"day":"2026-11-28","count":1,"total_fen":107,
        "total_cny":"1.07","digest":"dd"},"match":false}],
    "discrepancies":[
      {"kind":"amount_mismatch","id":"compute/hold_a","fields":["amount_fen"],
       "ours":)") +
      kComputeView +
      R"(,"theirs":{"id":"compute/hold_a","amount_fen":6000,"amount_cny":"60.00"}},
      {"kind":"missing_here","id":"egress/tr_b/west","fields":[],"ours":null,
       "theirs":{"amount_fen":107,"amount_cny":"1.07"}}],
    "summary":{"missing_here":1,"missing_there":0,"amount_mismatch":1,"content_mismatch":0,
               "duplicate":0}})";
  const json::value answer = Parse(response);
  EXPECT_FALSE(Reconciled(answer));
  EXPECT_EQ(RenderReconcile(answer),
            "reconcile with west, 2026-11-01T00:00:00.000+08:00 to "
            "2026-12-01T00:00:00.000+08:00: 2 discrepancies\n"
            "days that differ:\n"
            "  2026-11-27  ours: 3 records, 120.00 CNY  theirs: 2 records, 100.00 CNY\n"
            "  2026-11-28  ours: none                   theirs: 1 record, 1.07 CNY\n"
            "discrepancies:\n"
            "KIND             ID                FIELDS      OURS (CNY)  THEIRS (CNY)\n"
            "amount_mismatch  compute/hold_a    amount_fen       74.00         60.00\n"
            "missing_here     egress/tr_b/west  -                    -          1.07\n"
            "summary: 1 missing here, 0 missing at west, 1 amount mismatch, 0 content mismatch, "
            "0 duplicate\n");
}

TEST(LedgerFormatTest, ReconcileMatched) {
  const json::value answer = Parse(R"({"peer":"west","from":null,"to":null,"matched":true,
    "days":[{"day":"2026-11-26","ours":{"count":1},"theirs":{"count":1},"match":true}],
    "discrepancies":[],"summary":{}})");
  EXPECT_TRUE(Reconciled(answer));
  EXPECT_EQ(RenderReconcile(answer),
            "reconcile with west, all time: matched (1 day, every digest equal)\n");
  // No "matched" at all is not a match.
  EXPECT_FALSE(Reconciled(Parse(R"({"peer":"west","discrepancies":[]})")));
}

TEST(LedgerFormatTest, Netting) {
  const json::value answer = Parse(R"({"from":"2026-11-01","to":null,
    "centers":[
      {"center":"east","reported":true,"position_fen":1234,"position_cny":"12.34"},
      {"center":"north","reported":false,"position_fen":0,"position_cny":"0.00"},
      {"center":"west","reported":true,"position_fen":-1234,"position_cny":"-12.34"}],
    "sum_fen":0,
    "payments":[{"from":"west","to":"east","amount_fen":1234,"amount_cny":"12.34"}],
    "disagreements":["east/west: east says +1234, west says -1200"],
    "unreachable":["north: connection refused"]})");
  EXPECT_EQ(RenderNetting(answer),
            "netting, from 2026-11-01 (a positive position is owed to the center)\n"
            "CENTER  POSITION (CNY)  REPORTED\n"
            "east             12.34  yes\n"
            "north             0.00  no\n"
            "west            -12.34  yes\n"
            "payments:\n"
            "  west pays east 12.34 CNY\n"
            "disagreements:\n"
            "  east/west: east says +1234, west says -1200\n"
            "unreachable:\n"
            "  north: connection refused\n"
            "sum of positions: 0.00 CNY\n");
  EXPECT_EQ(RenderNetting(Parse(R"({"centers":[],"sum_fen":5,"payments":[]})")),
            "netting, all time (a positive position is owed to the center)\n"
            "No centers.\n"
            "payments: none\n"
            "sum of positions: 0.05 CNY (should be 0.00: the positions do not balance)\n");
}

TEST(LedgerFormatTest, PeriodBoundsAndIds) {
  EXPECT_TRUE(IsPeriodBound("2026-11-01"));
  EXPECT_TRUE(IsPeriodBound("2026-11-01T00:00:00Z"));
  EXPECT_TRUE(IsPeriodBound("2026-11-01T08:00:00+08:00"));
  EXPECT_FALSE(IsPeriodBound("2026-13-01"));
  EXPECT_FALSE(IsPeriodBound("2026-1-01"));
  EXPECT_FALSE(IsPeriodBound("yesterday"));
  EXPECT_FALSE(IsPeriodBound(""));

  EXPECT_TRUE(IsSettlementId("compute/hold_01JDZ6Q3W8N4V5T7X9Y2K3M4P5"));
  EXPECT_TRUE(IsSettlementId("egress/tr_01JDZ/ningxia-zw"));
  EXPECT_FALSE(IsSettlementId("compute//x"));
  EXPECT_FALSE(IsSettlementId("/compute/x"));
  EXPECT_FALSE(IsSettlementId("compute/x/"));
  EXPECT_FALSE(IsSettlementId("compute/x?y"));
  EXPECT_FALSE(IsSettlementId(std::string(301, 'a')));
  EXPECT_EQ(SettlementTarget("egress/tr_1/west"), "/v1/settlements/egress%2Ftr_1%2Fwest");
}

TEST(LedgerFormatTest, QueriesAndPeriods) {
  EXPECT_EQ(WithQuery("/v1/settlements", {}), "/v1/settlements");
  EXPECT_EQ(WithQuery("/v1/settlements", {{"peer", "west"}, {"after", ""}, {"from", "a b+c"}}),
            "/v1/settlements?peer=west&from=a%20b%2Bc");

  std::vector<std::pair<std::string, std::string>> params;
  EXPECT_FALSE(AddPeriodParams("2026-11-01", std::nullopt, &params));
  EXPECT_EQ(params, (std::vector<std::pair<std::string, std::string>>{{"from", "2026-11-01"}}));
  params.clear();
  auto error = AddPeriodParams("2026-11-01", "tomorrow", &params);
  ASSERT_TRUE(error);
  EXPECT_EQ(*error, "--to: 'tomorrow' is neither RFC 3339 nor a date YYYY-MM-DD");
  EXPECT_TRUE(params.empty());
  EXPECT_EQ(WithQuery("/v1/balances", {{"from", "2026-11-01T00:00:00+08:00"}}),
            "/v1/balances?from=2026-11-01T00%3A00%3A00%2B08%3A00");
}

TEST(LedgerFormatTest, CsvPagesDropTheHeader) {
  EXPECT_EQ(CsvWithoutHeader("id,day\r\na,1\r\nb,2\r\n"), "a,1\r\nb,2\r\n");
  EXPECT_EQ(CsvWithoutHeader("id,day\r\n"), "");
  EXPECT_EQ(CsvWithoutHeader("id,day"), "");
}

}  // namespace
}  // namespace edwc::cli
