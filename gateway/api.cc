#include "gateway/api.h"

#include <boost/json.hpp>
#include <cstdio>

#include "core/accelerator.h"
#include "core/json.h"
#include "federation/placement.h"
#include "gateway/metrics.h"
#include "gateway/openapi_service.h"
#include "gateway/ui_service.h"
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

std::string FormatMicro(int64_t v) { return core::FormatDecimal(v, 6); }
std::string FormatMilli(int64_t v) { return core::FormatDecimal(v, 3); }
std::string FormatTenths(int64_t permille) { return core::FormatDecimal(permille, 1); }

void Merge(json::object& into, json::object from) {
  for (auto& kv : from) into[kv.key()] = std::move(kv.value());
}

}  // namespace

ApiService::ApiService(const config::CenterConfig& config, const core::Clock* clock,
                       Metrics* metrics)
    : config_(config), clock_(clock), metrics_(metrics) {}

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
  RegisterOpenApiRoute(router);
  RegisterUiRoutes(router, config_.center.id);
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

// POST /v1/quotes: every center of the view ranked for the job (federation/placement.h),
// with the reason each excluded center cannot take it.
void ApiService::CreateQuote(HttpRequest& req, const RouteContext&, Respond respond) {
  auto body = core::ParseJsonObject(req.body);
  if (!body.ok()) return respond(HttpResponse::Error(body.status()));
  auto request = federation::PlacementRequestFromJson(*body);
  if (!request.ok()) return respond(HttpResponse::Error(request.status()));
  if (!ready()) return respond(NotReady());
  auto view = CurrentView();
  if (!view.ok()) return respond(HttpResponse::Error(view.status()));
  const core::Time now = clock_->Now();
  const federation::Placement placement = federation::Place(*request, (*view)->entries, now);
  respond(HttpResponse::Json(200, json::serialize(federation::ToJson(placement))));
}

}  // namespace edwc::gateway
