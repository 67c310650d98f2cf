#include "cli/demo_workload.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <thread>

#include "cli/job_format.h"
#include "cli/ledger_format.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/money.h"
#include "gateway/http_client.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct SampleJob {
  const char* name;
  const char* what;       // one line on why it exists
  const char* placement;  // JSON members of the placement request
  const char* script;     // run by sh -c on the chosen center
};

// A broker's day: each job shows one way the federation chooses.
constexpr SampleJob kJobs[] = {
    {"llm-pretrain", "16 x h800 for 4h, cheapest",
     R"("model":"h800","count":16,"duration_minutes":240,"objective":"cost")",
     "echo \"pretraining on devices $EDWC_DEVICES\"; sleep 3"},
    {"urgent-finetune", "8 x a100-80g for 2h, fastest, 500 GB of data at home",
     R"("model":"a100-80g","count":8,"duration_minutes":120,"objective":"time",)"
     R"("dataset":{"home_center":"$HOME","bytes":500000000000})",
     "echo \"fine-tuning on devices $EDWC_DEVICES\"; sleep 2"},
    {"green-eval", "32 x ascend-910b for 1h, greenest power, at least 50% green",
     R"("model":"ascend-910b","count":32,"duration_minutes":60,"objective":"green",)"
     R"("min_green_percent":50)",
     "echo \"evaluating on devices $EDWC_DEVICES\"; sleep 2"},
    {"batch-inference", "8 devices of >= 140 TFLOPS and >= 90 GiB for 2h, any model, cheapest",
     R"("min_fp16_tflops":140,"min_memory_gib":90,"count":8,"duration_minutes":120)",
     "echo \"serving on devices $EDWC_DEVICES\"; sleep 2"},
    {"broken-script", "2 x h20 for 30m; the script exits 3",
     R"("model":"h20","count":2,"duration_minutes":30)", "echo 'missing input' >&2; exit 3"},
    {"log-analytics", "4 x h20 for 1h on the 32 MiB dataset sensor-logs, cheapest with the move",
     R"("model":"h20","count":4,"duration_minutes":60,)"
     R"("inputs":[{"dataset":"sensor-logs","center":"$HOME"}])",
     "wc -c < \"$EDWC_INPUT_DIR/sensor-logs\" > \"$EDWC_OUTPUT_DIR/bytes-analysed.txt\"; "
     "echo \"analysed $EDWC_INPUT_DIR/sensor-logs\""},
};

constexpr int64_t kDatasetBytes = 32 << 20;

// Uploads the dataset the last sample job reads: 32 MiB of pseudo-random bytes.
bool UploadDataset(gateway::HttpsClient& client,
                   const std::vector<std::pair<std::string, std::string>>& auth) {
  uint64_t state = 0x2545f4914f6cdd1dull;
  auto read = [&state](char* buffer, size_t max) -> core::Result<size_t> {
    for (size_t i = 0; i + 8 <= max; i += 8) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
      std::memcpy(buffer + i, &state, 8);
    }
    return max;
  };
  int64_t left = kDatasetBytes;
  auto bounded = [&](char* buffer, size_t max) -> core::Result<size_t> {
    const size_t n = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(max)));
    left -= static_cast<int64_t>(n);
    return read(buffer, n);
  };
  auto r = client.Upload("PUT", "/v1/datasets/sensor-logs", kDatasetBytes, bounded, {auth[0]});
  if (!r.ok() || r->status >= 300) {
    std::printf("  (could not upload sensor-logs: %s)\n",
                r.ok() ? r->body.c_str() : r.status().ToString().c_str());
    return false;
  }
  std::printf(
      "  dataset sensor-logs: 32 MiB uploaded here, chunked and hashed (PUT /v1/datasets)\n");
  return true;
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return "-";
  return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
}

std::string ReplaceAll(std::string text, std::string_view from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// "zhongwei ¥1056.00, qingpu ¥1568.00, guian ¥..." and the exclusions, from a quote.
void PrintQuotes(const json::object& placement) {
  std::string ranked;
  int shown = 0;
  for (const auto& q : placement.at("quotes").as_array()) {
    if (shown++ == 4) {
      ranked += ", ...";
      break;
    }
    const auto& o = q.as_object();
    ranked += (ranked.empty() ? "" : ", ") + Str(o, "center") + " " + Str(o, "model") + " ¥" +
              Str(o, "total_cny");
  }
  std::printf("      quotes: %s\n", ranked.empty() ? "(none)" : ranked.c_str());
  for (const auto& e : placement.at("excluded").as_array()) {
    const auto& o = e.as_object();
    std::printf("      not %s: %s (%s)\n", Str(o, "center").c_str(), Str(o, "reason").c_str(),
                Str(o, "detail").c_str());
  }
}

// One egress settlement per leg of a done transfer: the receiver of the leg pays its sender.
void ExpectEgress(const json::object& transfer, std::vector<ExpectedSettlement>* to_settle) {
  const std::string id = Str(transfer, "id");
  std::vector<std::pair<std::string, std::string>> legs;  // from, to
  const json::value* plan = transfer.if_contains("plan");
  if (const json::value* l =
          plan && plan->is_object() ? plan->as_object().if_contains("legs") : nullptr;
      l != nullptr && l->is_array()) {
    for (const json::value& leg : l->as_array()) {
      if (!leg.is_object()) continue;
      legs.emplace_back(Str(leg.as_object(), "from"), Str(leg.as_object(), "to"));
    }
  } else if (const std::string relay = Str(transfer, "relay"); relay != "-") {
    legs = {{Str(transfer, "from"), relay}, {relay, Str(transfer, "to")}};
  } else {
    legs = {{Str(transfer, "from"), Str(transfer, "to")}};
  }
  for (const auto& [from, to] : legs) {
    if (from == to) continue;
    to_settle->push_back({"egress of " + id + " from " + from, "egress",
                          "egress/" + id + "/" + from, id, "", "", from, to});
  }
}

// Brings a job's output dataset to the broker's home center and prints it; the legs of the
// transfer that moved it are added to `to_settle`.
void BringHome(gateway::HttpsClient& client,
               const std::vector<std::pair<std::string, std::string>>& auth,
               const std::string& home, const json::object& output, std::chrono::seconds within,
               std::vector<ExpectedSettlement>* to_settle) {
  const std::string dataset = Str(output, "dataset"), center = Str(output, "center");
  std::string how = "already here";
  if (center != home) {
    auto headers = auth;
    headers.emplace_back("idempotency-key", "demo-output-" + dataset);
    const std::string body =
        json::serialize(json::object{{"dataset", dataset}, {"from", center}, {"to", home}});
    auto r = client.Request("POST", "/v1/transfers", body, headers);
    auto doc = r.ok() ? core::ParseJsonObject(r->body) : core::Result<json::object>(r.status());
    if (!doc.ok() || !doc->contains("transfer")) return;
    const std::string id = Str(doc->at("transfer").as_object(), "id");
    const auto deadline = std::chrono::steady_clock::now() + within;
    json::object t;
    while (std::chrono::steady_clock::now() < deadline) {
      auto g = client.Request("GET", "/v1/transfers/" + id, "", auth);
      auto got = g.ok() ? core::ParseJsonObject(g->body) : core::Result<json::object>(g.status());
      if (got.ok() && got->contains("transfer")) t = got->at("transfer").as_object();
      const std::string state = Str(t, "state");
      if (state == "done" || state == "failed" || state == "cancelled") break;
      std::this_thread::sleep_for(100ms);
    }
    if (Str(t, "state") != "done") return;
    ExpectEgress(t, to_settle);
    how = "moved home by " + id + ", egress ¥" + Str(t, "egress_cny");
  }
  auto data = client.Request("GET", "/v1/datasets/" + dataset, "", auth);
  if (!data.ok() || data->status != 200) return;
  std::string text = data->body.substr(0, 80);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::printf("      results: %s \"%s\" (%s)\n", dataset.c_str(), text.c_str(), how.c_str());
}

// ---- Settlements -----------------------------------------------------------------------

using Headers = std::vector<std::pair<std::string, std::string>>;

struct FinanceView {
  const WorkloadCenter* center;
  std::unique_ptr<gateway::HttpsClient> client;  // null when it could not be made
  std::string why_not;                           // then why
};

core::Result<json::object> GetJson(FinanceView& at, const Headers& auth,
                                   const std::string& target) {
  if (at.client == nullptr) return core::Status(core::Code::kUnavailable, at.why_not);
  auto r = at.client->Request("GET", target, "", auth);
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return core::Status(core::Code::kUnavailable,
                        "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200));
  }
  return core::ParseJsonObject(r->body);
}

bool Matches(const ExpectedSettlement& e, const json::object& view) {
  auto same = [&view](std::string_view key, const std::string& want) {
    return want.empty() || Str(view, key) == want;
  };
  const std::string job = Str(view, "job");
  return same("kind", e.kind) && same("id", e.id) && same("job", e.job) && same("payee", e.payee) &&
         same("payer", e.payer) && job.starts_with(e.job_prefix) && job.ends_with(e.job_suffix);
}

// The federation's ledgers as the finance API shows them at one moment.
struct LedgerScan {
  std::set<std::string> ids;      // every settlement, once
  std::set<std::string> offered;  // those some center holds as an unanswered offer
  std::vector<std::string> missing;
  std::string error;  // a center that could not be read
};

LedgerScan ScanLedgers(std::vector<FinanceView>& views, const Headers& auth,
                       const std::vector<ExpectedSettlement>& expected) {
  LedgerScan scan;
  std::vector<bool> found(expected.size(), false);
  for (FinanceView& v : views) {
    std::string after;
    for (int page = 0; page < 100; ++page) {
      auto doc =
          GetJson(v, auth, WithQuery("/v1/settlements", {{"limit", "1000"}, {"after", after}}));
      if (!doc.ok()) {
        scan.error = v.center->id + ": " + doc.status().message();
        return scan;
      }
      if (const json::value* list = doc->if_contains("settlements"); list && list->is_array()) {
        for (const json::value& s : list->as_array()) {
          if (!s.is_object()) continue;
          const json::object& view = s.as_object();
          scan.ids.insert(Str(view, "id"));
          if (Str(view, "state") == "offered") scan.offered.insert(Str(view, "id"));
          for (size_t i = 0; i < expected.size(); ++i) {
            if (!found[i] && Matches(expected[i], view)) found[i] = true;
          }
        }
      }
      after = Str(*doc, "next");
      if (after == "-") break;
    }
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!found[i]) scan.missing.push_back(expected[i].what);
  }
  return scan;
}

std::string Yuan(int64_t fen) { return core::Money::Fen(fen).ToYuanString(); }

void PrintIndented(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    std::printf("  %s\n", line.c_str());
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

// Each center's balance (agreed records) as a table; the sum of their nets in *sum.
bool PrintBalances(std::vector<FinanceView>& views, const Headers& auth, int64_t* sum) {
  std::vector<std::vector<std::string>> rows;
  bool all = true;
  *sum = 0;
  for (FinanceView& v : views) {
    auto doc = GetJson(v, auth, "/v1/balances");
    const json::value* total = doc.ok() ? doc->if_contains("total") : nullptr;
    const json::value* net =
        total && total->is_object() ? total->as_object().if_contains("net_fen") : nullptr;
    if (net == nullptr || !net->is_int64()) {
      all = false;
      rows.push_back({v.center->id, "-", "-", "-"});
      continue;
    }
    *sum += net->as_int64();
    rows.push_back({v.center->id, MoneyText(*total, "receivable"), MoneyText(*total, "payable"),
                    MoneyText(*total, "net")});
  }
  PrintIndented(RenderTable({"CENTER", "RECEIVABLE", "PAYABLE", "NET (CNY)"}, rows,
                            {false, true, true, true}));
  return all;
}

// The fewest payments that settle every position, as the home center nets them.
std::vector<NetPayment> PrintNetting(FinanceView& home, const Headers& auth) {
  std::vector<NetPayment> payments;
  auto doc = GetJson(home, auth, "/v1/netting");
  if (!doc.ok()) {
    std::printf("  Netting at %s: %s\n", home.center->id.c_str(), doc.status().message().c_str());
    return payments;
  }
  const json::value answer(std::move(*doc));
  if (const json::value* list = answer.as_object().if_contains("payments");
      list && list->is_array()) {
    for (const json::value& p : list->as_array()) {
      const json::value* fen = p.is_object() ? p.as_object().if_contains("amount_fen") : nullptr;
      if (fen == nullptr || !fen->is_int64()) continue;
      payments.push_back({FieldText(p, "from"), FieldText(p, "to"), fen->as_int64()});
    }
  }
  std::printf("  Netting at %s (GET /v1/netting): %s\n", home.center->id.c_str(),
              payments.empty()       ? "no payment needed"
              : payments.size() == 1 ? "one payment settles everything:"
                                     : "the fewest payments that settle everything:");
  for (const NetPayment& p : payments) {
    std::printf("    %s pays %s ¥%s\n", p.from.c_str(), p.to.c_str(), Yuan(p.amount_fen).c_str());
  }
  for (const char* list : {"disagreements", "unreachable"}) {
    const json::value* items = answer.as_object().if_contains(list);
    if (items == nullptr || !items->is_array()) continue;
    for (const json::value& item : items->as_array()) {
      std::printf(
          "    %s: %s\n", list,
          item.is_string() ? std::string(item.as_string()).c_str() : json::serialize(item).c_str());
    }
  }
  return payments;
}

// Whether every chain verifies at every center; the first break (or error) otherwise.
bool PrintVerify(std::vector<FinanceView>& views, const Headers& auth) {
  std::set<std::string> chains;
  for (FinanceView& v : views) {
    auto doc = GetJson(v, auth, "/v1/ledger/verify");
    if (!doc.ok()) {
      std::printf("  Ledger not verified at %s: %s\n", v.center->id.c_str(),
                  doc.status().message().c_str());
      return false;
    }
    const json::value answer(std::move(*doc));
    if (!LedgerVerified(answer)) {
      const std::string text = RenderVerify(answer);
      size_t at = text.find("BROKEN");
      const std::string line = at == std::string::npos ? text : text.substr(at);
      std::printf("  Ledger chain broken at %s: %s", v.center->id.c_str(),
                  line.substr(0, line.find('\n') + 1).c_str());
      return false;
    }
    if (const json::value* list = answer.as_object().if_contains("chains");
        list && list->is_array()) {
      for (const json::value& c : list->as_array()) {
        chains.insert(FieldText(c, "payee") + ">" + FieldText(c, "payer"));
      }
    }
  }
  std::printf("  Ledger chains verified at every center (%zu %s; GET /v1/ledger/verify).\n",
              chains.size(), chains.size() == 1 ? "chain" : "chains");
  return true;
}

}  // namespace

SettlementSummary ShowSettlements(const std::vector<WorkloadCenter>& centers, size_t home,
                                  const std::string& ca_file, const std::string& finance_token,
                                  const WorkloadResult& workload, const std::string& dir,
                                  std::chrono::seconds within) {
  SettlementSummary summary;
  const Headers auth = {{"authorization", "Bearer " + finance_token}};
  std::vector<FinanceView> views;
  for (const WorkloadCenter& c : centers) {
    auto client = gateway::HttpsClient::Create(c.api_url, {ca_file, "", "", false}, 5s);
    if (client.ok()) {
      views.push_back({&c, std::move(client).value(), ""});
    } else {
      views.push_back({&c, nullptr, client.status().message()});
    }
  }
  const auto start = std::chrono::steady_clock::now();
  LedgerScan scan;
  for (;;) {
    scan = ScanLedgers(views, auth, workload.to_settle);
    summary.exchanged = scan.error.empty() && scan.offered.empty() && scan.missing.empty();
    if (summary.exchanged || std::chrono::steady_clock::now() - start >= within) break;
    std::this_thread::sleep_for(200ms);  // offers go out as soon as the work ends
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  summary.count = static_cast<int>(scan.ids.size());
  std::printf(
      "\nSettlements: each job run away from home and each transfer leg is signed by the "
      "center\nthat did the work, countersigned by the payer and chained in both ledgers. "
      "Balances of\nagreed records (GET /v1/balances at each center, finance role):\n\n");
  if (!summary.exchanged) {
    std::string why = scan.error;
    if (why.empty() && !scan.offered.empty()) {
      why = std::to_string(scan.offered.size()) + " offers unanswered";
    }
    for (size_t i = 0; scan.error.empty() && i < scan.missing.size(); ++i) {
      why += (i == 0 ? (why.empty() ? "not yet issued: " : "; not yet issued: ") : ", ") +
             scan.missing[i];
    }
    std::printf("  Not all settled after %lld s (%s); the ledgers as they are now:\n",
                static_cast<long long>(within.count()), why.c_str());
  }
  int64_t sum = 0;
  const bool all_read = PrintBalances(views, auth, &sum);
  summary.sum_of_nets_fen = sum;
  if (!all_read) {
    std::printf("  The nets cannot be summed: a center's balances could not be read.\n");
  } else if (sum == 0) {
    const std::string when =
        summary.exchanged ? ", exchanged in " + std::to_string(took.count()) + " ms" : "";
    std::printf("  %d settlements%s; the nets sum to ¥0.00: what one center is owed, others owe.\n",
                summary.count, when.c_str());
  } else {
    std::printf("  The nets sum to ¥%s, not ¥0.00: some record is agreed on one side only.\n",
                Yuan(sum).c_str());
  }
  summary.payments = PrintNetting(views[home], auth);
  summary.verified = PrintVerify(views, auth);

  // A peer to reconcile with: the first center the home center settled with.
  const std::string& self = centers[home].id;
  std::string peer;
  for (const ExpectedSettlement& e : workload.to_settle) {
    if (e.payer == self || e.payee == self) {
      peer = e.payer == self ? e.payee : e.payer;
      break;
    }
  }
  if (peer.empty() && centers.size() > 1) peer = centers[home == 0 ? 1 : 0].id;
  std::vector<std::pair<std::string, std::string>> hints = {
      {"edwc ledger list --demo " + dir, "every settlement at " + self + ", signed by both sides"},
      {"edwc ledger balances --demo " + dir, self + "'s position with each center"},
      {"edwc netting --demo " + dir, "every center's position and the payments"}};
  if (!peer.empty()) {
    hints.push_back({"edwc reconcile " + peer + " --demo " + dir,
                     self + "'s records against " + peer + "'s, day by day"});
  }
  size_t width = 0;
  for (const auto& h : hints) width = std::max(width, h.first.size());
  for (const auto& [command, what] : hints) {
    std::printf("  %-*s  # %s\n", static_cast<int>(width), command.c_str(), what.c_str());
  }
  return summary;
}

size_t HomeCenterIndex(const std::vector<WorkloadCenter>& centers) {
  for (size_t i = 0; i < centers.size(); ++i) {
    if (centers[i].zone == "cn-east") return i;
  }
  return 0;
}

WorkloadResult RunSampleWorkload(const WorkloadCenter& home, const std::string& ca_file,
                                 const std::string& broker_token, std::chrono::seconds within) {
  WorkloadResult result;
  auto client = gateway::HttpsClient::Create(home.api_url, {ca_file, "", "", false}, 15s);
  if (!client.ok()) {
    std::printf("Sample workload skipped: %s\n", client.status().ToString().c_str());
    return result;
  }
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"authorization", "Bearer " + broker_token}, {"content-type", "application/json"}};
  std::printf("\nSample workload: a broker at %s (%s) quotes and submits %zu jobs:\n\n",
              home.id.c_str(), home.zone.c_str(), std::size(kJobs));
  std::vector<std::pair<const SampleJob*, std::string>> placed;  // job, id
  const bool have_data = UploadDataset(**client, auth);
  for (const SampleJob& job : kJobs) {
    if (!have_data && std::string_view(job.placement).find("inputs") != std::string_view::npos) {
      continue;
    }
    std::string request = "{";  // appended: GCC 12 warns falsely on "{" + string (-Wrestrict)
    request += ReplaceAll(job.placement, "$HOME", home.id);
    request += '}';
    std::printf("  %-16s %s\n", job.name, job.what);
    // A quote names the data by where it is and its size; the job names the dataset.
    std::string quoted = request;
    if (auto doc = core::ParseJsonObject(request); doc.ok() && doc->contains("inputs")) {
      doc->erase("inputs");
      (*doc)["dataset"] = json::object{{"home_center", home.id}, {"bytes", kDatasetBytes}};
      quoted = json::serialize(*doc);
    }
    auto quote = (*client)->Request("POST", "/v1/quotes", quoted, auth);
    if (quote.ok() && quote->status == 200) {
      if (auto doc = core::ParseJsonObject(quote->body); doc.ok()) PrintQuotes(*doc);
    }
    json::object body = core::ParseJsonObject(request).value();
    body["name"] = job.name;
    body["command"] = json::array{"sh", "-c", job.script};
    auto headers = auth;
    headers.emplace_back("idempotency-key", core::NewRandomId("demo"));
    auto r = (*client)->Request("POST", "/v1/jobs", json::serialize(body), headers);
    ++result.submitted;
    auto doc = r.ok() ? core::ParseJsonObject(r->body) : core::Result<json::object>(r.status());
    if (!r.ok() || r->status >= 300 || !doc.ok()) {
      std::printf("      -> not placed: %s\n",
                  r.ok() ? r->body.c_str() : r.status().ToString().c_str());
      ++result.failed;
      continue;
    }
    std::string why = "-";
    if (const json::value* q = doc->if_contains("quote"); q && q->is_object()) {
      why = Str(q->as_object(), "why");
    }
    std::printf("      -> placed on %s: %s (%s, %s)\n", Str(*doc, "center").c_str(), why.c_str(),
                Str(*doc, "id").c_str(), Str(*doc, "state").c_str());
    placed.emplace_back(&job, Str(*doc, "id"));
  }

  std::printf("\nHow they ended (GET /v1/jobs/{id}):\n\n  %-16s %-10s %-10s %8s %10s  %s\n", "JOB",
              "STATE", "CENTER", "DEV-SEC", "COST (¥)", "HOW IT ENDED");
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (const auto& [job, id] : placed) {
    json::object last;
    for (;;) {
      auto r = (*client)->Request("GET", "/v1/jobs/" + id, "", auth);
      if (r.ok() && r->status == 200) {
        if (auto doc = core::ParseJsonObject(r->body); doc.ok()) last = std::move(*doc);
      }
      const std::string state = Str(last, "state");
      if (state == "succeeded" || state == "failed" || state == "cancelled" ||
          std::chrono::steady_clock::now() >= deadline) {
        break;
      }
      std::this_thread::sleep_for(200ms);  // a broker polling its job, as `edwc job watch` does
    }
    const std::string state = Str(last, "state");
    std::string seconds = "-", cost = "-", exit = "-";
    if (const json::value* u = last.if_contains("usage"); u && u->is_object()) {
      const auto& usage = u->as_object();
      seconds = Str(usage, "accelerator_seconds");
      cost = Str(usage, "cost_cny");
      exit = Str(usage, "message");
    }
    if (state == "succeeded") {
      ++result.succeeded;
    } else if (state == "failed" || state == "cancelled") {
      ++result.failed;
    } else {
      ++result.unfinished;
    }
    const std::string center = Str(last, "center");
    std::printf("  %-16s %-10s %-10s %8s %10s  %s\n", job->name, state.c_str(), center.c_str(),
                seconds.c_str(), cost.c_str(), exit.c_str());
    // A job that ran (it has usage) away from home is paid for by home; its input, when
    // it had to be moved there, by the center it ran on.
    if (last.contains("usage") && center != home.id && center != "-") {
      result.to_settle.push_back(
          {std::string("compute of ") + job->name, "compute", "", id, "", "", center, home.id});
      if (std::string_view(job->placement).find("inputs") != std::string_view::npos) {
        result.to_settle.push_back({"egress of sensor-logs to " + center, "egress", "", "", "in.",
                                    ".sensor-logs", home.id, center});
      }
    }
    if (const json::value* out = last.if_contains("output"); out && out->is_object()) {
      BringHome(**client, auth, home.id, out->as_object(), within, &result.to_settle);
    }
  }
  return result;
}

}  // namespace edwc::cli
