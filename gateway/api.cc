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

// An integer scaled by 10^digits as a decimal without trailing zeros: (37500000, 6) is
// "37.5". Exact: no floating point on the way.
std::string FormatScaled(int64_t value, int digits) {
  int64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const bool negative = value < 0;
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / static_cast<uint64_t>(scale));
  std::string fraction = std::to_string(magnitude % static_cast<uint64_t>(scale));
  fraction.insert(0, static_cast<size_t>(digits) - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (!fraction.empty()) {
    out += '.';
    out += fraction;
  }
  return out;
}
std::string FormatMicro(int64_t v) { return FormatScaled(v, 6); }
std::string FormatMilli(int64_t v) { return FormatScaled(v, 3); }
std::string FormatTenths(int64_t permille) { return FormatScaled(permille, 1); }

void Merge(json::object& into, json::object from) {
  for (auto& kv : from) into[kv.key()] = std::move(kv.value());
}

}  // namespace

ApiService::ApiService(const config::CenterConfig& config, executor::CapacitySource* capacity,
                       const core::Clock* clock, Metrics* metrics)
    : config_(config), capacity_(capacity), clock_(clock), metrics_(metrics) {}

void ApiService::SetReady(uint64_t epoch, const ViewSource* view) {
  epoch_ = epoch;
  source_ = view;
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
  if (!ready()) return respond(NotReady());
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
  const ViewSource* source = source_.load();
  auto view = std::make_shared<View>();
  view->version = source->version();
  view->entries = source->View(now);
  view->rendered_at = now;
  const std::string placeholder = json::serialize(json::value(kLocationPlaceholder));
  view->centers_body = "{\"centers\":[";
  for (size_t i = 0; i < view->entries.size(); ++i) {
    const federation::ViewEntry& e = view->entries[i];
    const federation::CapacityAdvert& a = e.advert;
    json::array accelerators;
    for (const auto& m : a.models) {
      json::object o{
          {"model", m.model}, {"total", m.total}, {"used", m.total - m.free}, {"free", m.free}};
      if (const core::AcceleratorModel* spec = core::FindAccelerator(m.model)) {
        o["name"] = spec->name;
        o["vendor"] = spec->vendor;
        o["fp16_dense_tflops"] = spec->fp16_dense_tflops;
        o["memory_gib"] = spec->memory_gib;
      }
      Merge(o, MoneyFields("price_now_per_device_hour", pricing::PriceAt(m.price, now)));
      accelerators.push_back(std::move(o));
    }
    json::object center{
        {"id", a.center},
        {"name", a.name},
        {"hub", a.hub},
        {"city", a.city},
        {"zone", a.zone},
        {"location", kLocationPlaceholder},
        {"peer_url", a.peer_url},
        {"epoch", a.epoch},
        {"seq", a.seq},
        {"liveness", federation::LivenessName(e.liveness)},
        {"self", e.self},
        {"accelerators", std::move(accelerators)},
        {"free_fp16_dense_tflops", a.free_fp16_dense_tflops},
        {"total_fp16_dense_tflops", a.total_fp16_dense_tflops},
        {"free_fp16_dense_pflops", FormatMilli(a.free_fp16_dense_tflops)},
        {"issued_at", core::FormatRfc3339(a.issued_at)},
        {"expires_at", core::FormatRfc3339(a.expires_at())},
        {"last_heard", core::FormatRfc3339(e.last_heard)},
        {"as_of", core::FormatRfc3339(now)},
    };
    if (a.green_share_permille != 0)
      center["green_share_percent"] = FormatTenths(a.green_share_permille);
    if (a.pue_milli != 0) center["pue"] = FormatMilli(a.pue_milli);
    Merge(center, MoneyFields("egress_per_gb", a.egress_per_gb));
    std::string body = json::serialize(center);
    // Boost.JSON writes doubles as "3.75E1"; coordinates are exact integers of
    // micro-degrees in the advert and read better as 37.5.
    const std::string location =
        "{\"lat\":" + FormatMicro(a.lat_microdeg) + ",\"lon\":" + FormatMicro(a.lon_microdeg) + "}";
    body.replace(body.find(placeholder), placeholder.size(), location);
    if (i > 0) view->centers_body += ',';
    view->centers_body += body;
    view->center.emplace(a.center, std::move(body));
  }
  view->centers_body += "]}";
  return std::shared_ptr<const View>(std::move(view));
}

core::Result<std::shared_ptr<const ApiService::View>> ApiService::CurrentView() {
  const core::Time now = clock_->Now();
  const uint64_t version = source_.load()->version();
  {
    std::lock_guard lock(view_mu_);
    if (view_ && view_->version == version && now - view_->rendered_at < kViewTtl &&
        now >= view_->rendered_at) {
      return view_;
    }
  }
  EDWC_ASSIGN_OR_RETURN(auto fresh, RenderView(now));
  std::lock_guard lock(view_mu_);
  view_ = fresh;
  return fresh;
}

void ApiService::ListCenters(HttpRequest&, const RouteContext&, Respond respond) {
  if (!ready()) return respond(NotReady());
  auto view = CurrentView();
  if (!view.ok()) return respond(HttpResponse::Error(view.status()));
  HttpResponse r;
  r.shared_body = std::shared_ptr<const std::string>(*view, &(*view)->centers_body);
  respond(std::move(r));
}

void ApiService::GetCenter(HttpRequest&, const RouteContext& ctx, Respond respond) {
  if (!ready()) return respond(NotReady());
  auto view = CurrentView();
  if (!view.ok()) return respond(HttpResponse::Error(view.status()));
  const std::string id(ctx.Param("id"));
  auto it = (*view)->center.find(id);
  if (it == (*view)->center.end()) {
    return respond(
        HttpResponse::Error(core::NotFound("no center '" + id + "' in the federation view", "id")));
  }
  HttpResponse r;
  r.shared_body = std::shared_ptr<const std::string>(*view, &it->second);
  respond(std::move(r));
}

// POST /v1/quotes: what running `count` devices of `model` for `duration_minutes` from
// `start` (default now) costs at every center of the view, cheapest first, and why the
// others cannot.
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
  if (core::FindAccelerator(*model) == nullptr) {
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
  if (!ready()) return respond(NotReady());
  auto view = CurrentView();
  if (!view.ok()) return fail(view.status());

  const core::Time start = start_opt->value_or(clock_->Now());
  const core::Time end = start + std::chrono::minutes(*minutes);
  std::vector<std::pair<int64_t, json::object>> quotes;
  json::array excluded;
  for (const federation::ViewEntry& e : (*view)->entries) {
    const federation::CapacityAdvert& a = e.advert;
    auto exclude = [&](std::string reason) {
      excluded.push_back({{"center", a.center}, {"reason", std::move(reason)}});
    };
    if (e.liveness == federation::Liveness::kDead) {
      exclude("dead: no fresh advert and no contact");
      continue;
    }
    const federation::ModelCapacityAdvert* offer = nullptr;
    for (const auto& m : a.models) {
      if (m.model == *model) offer = &m;
    }
    if (offer == nullptr) {
      exclude("offers no " + *model);
      continue;
    }
    if (offer->free < *count) {
      exclude("only " + std::to_string(offer->free) + " " + *model + " free, " +
              std::to_string(*count) + " asked");
      continue;
    }
    auto cost = pricing::ComputeCost(offer->price, *count, start, end);
    if (!cost.ok()) return fail(cost.status().WithContext("cost"));
    json::object q{{"center", a.center},
                   {"hub", a.hub},
                   {"liveness", federation::LivenessName(e.liveness)},
                   {"model", *model},
                   {"count", *count},
                   {"start", core::FormatRfc3339(start)},
                   {"end", core::FormatRfc3339(end)}};
    Merge(q, MoneyFields("cost", *cost));
    Merge(q, MoneyFields("price_at_start_per_device_hour", pricing::PriceAt(offer->price, start)));
    quotes.emplace_back(cost->fen(), std::move(q));
  }
  // Cheapest first; equal costs in center order (the view is sorted), so the answer is
  // the same for the same view.
  std::stable_sort(quotes.begin(), quotes.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  json::array ranked;
  for (auto& [fen, q] : quotes) ranked.push_back(std::move(q));
  json::object out{{"quotes", std::move(ranked)}, {"excluded", std::move(excluded)}};
  respond(HttpResponse::Json(200, json::serialize(out)));
}

}  // namespace edwc::gateway
