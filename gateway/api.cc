#include "gateway/api.h"

#include <boost/json.hpp>
#include <cstdio>

#include "core/accelerator.h"
#include "core/json.h"
#include "gateway/metrics.h"
#include "pricing/price.h"

namespace edwc::gateway {

namespace json = boost::json;
using config::Role;

namespace {

// A rendered view is reused for this long; prices change at most per minute (time-of-use
// windows are whole minutes) and capacity is re-read on the next render.
constexpr core::Duration kViewTtl{1000};

const core::PriceSchedule* FindSchedule(const config::PriceList& prices, std::string_view model) {
  for (const auto& p : prices.models) {
    if (p.model == model) return &p.schedule;
  }
  return nullptr;
}

json::object MoneyFields(std::string_view prefix, core::Money m) {
  json::object o;
  o[std::string(prefix) + "_fen"] = m.fen();
  o[std::string(prefix) + "_cny"] = m.ToYuanString();
  return o;
}

HttpResponse NotReady() {
  return HttpResponse::Error(
      core::Status(core::Code::kUnavailable, "not ready: storage is still opening"));
}

constexpr std::string_view kLocationPlaceholder = "\x01location\x01";

// Degrees with up to six decimals (about 0.1 m), trailing zeros dropped: 37.5, 105.19.
std::string FormatCoordinate(double degrees) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", degrees);
  std::string out = buf;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

void Merge(json::object& into, json::object from) {
  for (auto& kv : from) into[kv.key()] = std::move(kv.value());
}

}  // namespace

ApiService::ApiService(const config::CenterConfig& config, executor::CapacitySource* capacity,
                       const core::Clock* clock, Metrics* metrics)
    : config_(config), capacity_(capacity), clock_(clock), metrics_(metrics) {}

void ApiService::SetReady(uint64_t epoch) {
  epoch_ = epoch;
  ready_ = true;
}

void ApiService::RegisterRoutes(Router& router) {
  auto bind = [this](void (ApiService::*fn)(HttpRequest&, const RouteContext&, Respond)) {
    return [this, fn](HttpRequest& req, const RouteContext& ctx, Respond respond) {
      (this->*fn)(req, ctx, std::move(respond));
    };
  };
  // Any role may read the federation view; each action needs its own role.
  const Access viewers =
      Access::Roles({Role::kViewer, Role::kBroker, Role::kFinance, Role::kOperator});
  router.Add("GET", "/healthz", Access::Public(), bind(&ApiService::Healthz));
  router.Add("GET", "/readyz", Access::Public(), bind(&ApiService::Readyz));
  router.Add("GET", "/metrics", Access::Public(), bind(&ApiService::MetricsText));
  router.Add("GET", "/v1/centers", viewers, bind(&ApiService::ListCenters));
  router.Add("GET", "/v1/centers/{id}", viewers, bind(&ApiService::GetCenter));
  router.Add("POST", "/v1/quotes", Access::Roles({Role::kBroker}), bind(&ApiService::CreateQuote));
}

void ApiService::Healthz(HttpRequest&, const RouteContext&, Respond respond) {
  respond(HttpResponse::Json(200, R"({"status":"ok"})"));
}

void ApiService::Readyz(HttpRequest&, const RouteContext&, Respond respond) {
  if (!ready_) return respond(NotReady());
  json::object o{{"status", "ready"}, {"center", config_.center.id}, {"epoch", epoch_.load()}};
  respond(HttpResponse::Json(200, json::serialize(o)));
}

void ApiService::MetricsText(HttpRequest&, const RouteContext&, Respond respond) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_ ? metrics_->RenderPrometheus() : std::string();
  respond(std::move(r));
}

core::Result<std::shared_ptr<const ApiService::View>> ApiService::RenderView(core::Time now) {
  EDWC_ASSIGN_OR_RETURN(auto capacity, capacity_->Read());
  json::array accelerators;
  int64_t free_tflops = 0;
  int64_t total_tflops = 0;
  for (const auto& m : capacity) {
    const core::AcceleratorModel* model = core::FindAccelerator(m.model);
    json::object a{{"model", m.model}, {"total", m.total}, {"used", m.used}, {"free", m.free()}};
    if (model != nullptr) {
      a["name"] = model->name;
      a["vendor"] = model->vendor;
      a["fp16_dense_tflops"] = model->fp16_dense_tflops;
      a["memory_gib"] = model->memory_gib;
      free_tflops += int64_t{model->fp16_dense_tflops} * m.free();
      total_tflops += int64_t{model->fp16_dense_tflops} * m.total;
    }
    if (const core::PriceSchedule* s = FindSchedule(config_.pricing, m.model)) {
      Merge(a, MoneyFields("price_now_per_device_hour", pricing::PriceAt(*s, now)));
    }
    accelerators.push_back(std::move(a));
  }
  const auto& c = config_.center;
  json::object center{
      {"id", c.id},
      {"name", c.name},
      {"hub", c.hub},
      {"city", c.city},
      {"zone", c.zone},
      {"location", kLocationPlaceholder},
      {"epoch", epoch_.load()},
      {"liveness", "alive"},
      {"self", true},
      {"accelerators", std::move(accelerators)},
      {"free_fp16_dense_tflops", free_tflops},
      {"total_fp16_dense_tflops", total_tflops},
      {"as_of", core::FormatRfc3339(now)},
  };
  Merge(center, MoneyFields("egress_per_gb", config_.pricing.egress_per_gb));
  auto view = std::make_shared<View>();
  view->center_body = json::serialize(center);
  // Boost.JSON writes doubles as "3.75E1"; coordinates read better as 37.5.
  const std::string placeholder = json::serialize(json::value(kLocationPlaceholder));
  const std::string location = "{\"lat\":" + FormatCoordinate(c.location.lat) +
                               ",\"lon\":" + FormatCoordinate(c.location.lon) + "}";
  view->center_body.replace(view->center_body.find(placeholder), placeholder.size(), location);
  view->centers_body = "{\"centers\":[" + view->center_body + "]}";
  view->rendered_at = now;
  return std::shared_ptr<const View>(std::move(view));
}

core::Result<std::shared_ptr<const ApiService::View>> ApiService::CurrentView() {
  const core::Time now = clock_->Now();
  {
    std::lock_guard lock(view_mu_);
    if (view_ && now - view_->rendered_at < kViewTtl && now >= view_->rendered_at) return view_;
  }
  EDWC_ASSIGN_OR_RETURN(auto fresh, RenderView(now));
  std::lock_guard lock(view_mu_);
  view_ = fresh;
  return fresh;
}

void ApiService::ListCenters(HttpRequest&, const RouteContext&, Respond respond) {
  if (!ready_) return respond(NotReady());
  auto view = CurrentView();
  if (!view.ok()) return respond(HttpResponse::Error(view.status()));
  HttpResponse r;
  r.shared_body = std::shared_ptr<const std::string>(*view, &(*view)->centers_body);
  respond(std::move(r));
}

void ApiService::GetCenter(HttpRequest&, const RouteContext& ctx, Respond respond) {
  if (!ready_) return respond(NotReady());
  const std::string_view id = ctx.Param("id");
  if (id != config_.center.id) {
    return respond(HttpResponse::Error(
        core::NotFound("no center '" + std::string(id) + "' in the federation view", "id")));
  }
  auto view = CurrentView();
  if (!view.ok()) return respond(HttpResponse::Error(view.status()));
  HttpResponse r;
  r.shared_body = std::shared_ptr<const std::string>(*view, &(*view)->center_body);
  respond(std::move(r));
}

// POST /v1/quotes: the cost of running `count` devices of `model` for `duration_minutes`
// from `start` (default now) at this center, or why it cannot.
void ApiService::CreateQuote(HttpRequest& req, const RouteContext&, Respond respond) {
  auto fail = [&](const core::Status& s) { respond(HttpResponse::Error(s)); };
  auto body = core::ParseJsonObject(req.body);
  if (!body.ok()) return fail(body.status());
  if (auto st = core::RejectUnknownFields(*body, {"model", "count", "duration_minutes", "start"});
      !st.ok()) {
    return fail(st);
  }
  auto model = core::GetString(*body, "model");
  if (!model.ok()) return fail(model.status());
  const core::AcceleratorModel* spec = core::FindAccelerator(*model);
  if (spec == nullptr) {
    return fail(core::InvalidArgument(
        "unknown accelerator model '" + *model + "' (see the catalog in docs/accelerators.md)",
        "model"));
  }
  auto count = core::GetInt(*body, "count", 1, 100000);
  if (!count.ok()) return fail(count.status());
  auto minutes = core::GetInt(*body, "duration_minutes", 1, 366 * 24 * 60);
  if (!minutes.ok()) return fail(minutes.status());
  auto start_opt = core::GetOptionalTime(*body, "start");
  if (!start_opt.ok()) return fail(start_opt.status());
  if (!ready_) return respond(NotReady());

  const core::Time start = start_opt->value_or(clock_->Now());
  const core::Time end = start + std::chrono::minutes(*minutes);
  json::array quotes;
  json::array excluded;
  const core::PriceSchedule* schedule = FindSchedule(config_.pricing, *model);
  auto capacity = capacity_->Read();
  if (!capacity.ok()) return fail(capacity.status());
  int32_t free = -1;
  for (const auto& m : *capacity) {
    if (m.model == *model) free = m.free();
  }
  const std::string& center = config_.center.id;
  if (schedule == nullptr || free < 0) {
    excluded.push_back({{"center", center}, {"reason", "offers no " + *model}});
  } else if (free < *count) {
    excluded.push_back({{"center", center},
                        {"reason", "only " + std::to_string(free) + " " + *model + " free, " +
                                       std::to_string(*count) + " asked"}});
  } else {
    auto cost = pricing::ComputeCost(*schedule, *count, start, end);
    if (!cost.ok()) return fail(cost.status().WithContext("cost"));
    json::object q{{"center", center},
                   {"model", *model},
                   {"count", *count},
                   {"start", core::FormatRfc3339(start)},
                   {"end", core::FormatRfc3339(end)}};
    Merge(q, MoneyFields("cost", *cost));
    Merge(q, MoneyFields("price_at_start_per_device_hour", pricing::PriceAt(*schedule, start)));
    quotes.push_back(std::move(q));
  }
  json::object out{{"quotes", std::move(quotes)}, {"excluded", std::move(excluded)}};
  respond(HttpResponse::Json(200, json::serialize(out)));
}

}  // namespace edwc::gateway
