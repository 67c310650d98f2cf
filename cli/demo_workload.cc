#include "cli/demo_workload.h"

#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/ids.h"
#include "core/json.h"
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

// Brings a job's output dataset to the broker's home center and prints it.
void BringHome(gateway::HttpsClient& client,
               const std::vector<std::pair<std::string, std::string>>& auth,
               const std::string& home, const json::object& output, std::chrono::seconds within) {
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
    how = "moved home by " + id + ", egress ¥" + Str(t, "egress_cny");
  }
  auto data = client.Request("GET", "/v1/datasets/" + dataset, "", auth);
  if (!data.ok() || data->status != 200) return;
  std::string text = data->body.substr(0, 80);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::printf("      results: %s \"%s\" (%s)\n", dataset.c_str(), text.c_str(), how.c_str());
}

}  // namespace

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
    std::printf("  %-16s %-10s %-10s %8s %10s  %s\n", job->name, state.c_str(),
                Str(last, "center").c_str(), seconds.c_str(), cost.c_str(), exit.c_str());
    if (const json::value* out = last.if_contains("output"); out && out->is_object()) {
      BringHome(**client, auth, home.id, out->as_object(), within);
    }
  }
  return result;
}

}  // namespace edwc::cli
