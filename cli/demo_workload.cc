#include "cli/demo_workload.h"

#include <boost/json.hpp>
#include <cstdio>
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
};

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
  for (const SampleJob& job : kJobs) {
    std::string request = "{";  // appended: GCC 12 warns falsely on "{" + string (-Wrestrict)
    request += ReplaceAll(job.placement, "$HOME", home.id);
    request += '}';
    std::printf("  %-16s %s\n", job.name, job.what);
    auto quote = (*client)->Request("POST", "/v1/quotes", request, auth);
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
  }
  return result;
}

}  // namespace edwc::cli
