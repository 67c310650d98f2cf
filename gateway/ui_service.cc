#include "gateway/ui_service.h"

#include <boost/json.hpp>
#include <utility>

namespace edwc::gateway {

namespace {

namespace json = boost::json;

std::string_view ContentTypeOf(std::string_view name) {
  const size_t dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "json") return "application/json";
  if (ext == "png") return "image/png";
  return "application/octet-stream";
}

const EmbeddedFile* FindAsset(std::string_view name) {
  for (const EmbeddedFile& a : UiAssets()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// Every dashboard answer, errors included, carries these: the page may only run what it
// was served with, never be framed, and never leak the URL to another origin.
void AddSecurityHeaders(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kUiContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
}

// True when If-None-Match (a list of entity tags, or "*") names `etag`; weak tags match
// too (RFC 9110 13.1.2 compares If-None-Match weakly).
bool NoneMatchNames(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

HttpResponse Serve(const HttpRequest& req, std::string_view name) {
  const EmbeddedFile* asset = FindAsset(name);
  if (asset == nullptr) {
    HttpResponse r = HttpResponse::Error(
        core::NotFound("no dashboard file '" + std::string(name) + "'", "file"));
    AddSecurityHeaders(r);
    return r;
  }
  HttpResponse r;
  r.headers.emplace_back("ETag", std::string(asset->etag));
  // Revalidated every time: a new gateway build may serve new files under the same names,
  // and a 304 costs one small round trip.
  r.headers.emplace_back("Cache-Control", "no-cache");
  AddSecurityHeaders(r);
  if (NoneMatchNames(req.Header("if-none-match"), asset->etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = std::string(ContentTypeOf(asset->name));
  r.body = std::string(asset->body);
  return r;
}

}  // namespace

void RegisterUiRoutes(Router& router, std::string center_id) {
  // The router ignores repeated and trailing slashes, so "/ui" and "/ui/" reach the same
  // route: the path tells them apart. Relative asset URLs in index.html need the slash.
  router.Add("GET", "/ui", Access::Public(),
             [](HttpRequest& req, const RouteContext&, Respond respond) {
               if (!req.path().ends_with('/')) {
                 HttpResponse r;
                 r.status = 308;
                 r.content_type = "text/plain; charset=utf-8";
                 r.body = "see /ui/\n";
                 r.headers.emplace_back("Location", "/ui/");
                 AddSecurityHeaders(r);
                 return respond(std::move(r));
               }
               respond(Serve(req, "index.html"));
             });
  router.Add("GET", "/ui/{file}", Access::Public(),
             [](HttpRequest& req, const RouteContext& ctx, Respond respond) {
               respond(Serve(req, ctx.Param("file")));
             });
  const Access anyone = Access::Roles({config::Role::kViewer, config::Role::kBroker,
                                       config::Role::kFinance, config::Role::kOperator});
  router.Add(
      "GET", "/v1/whoami", anyone,
      [center = std::move(center_id)](HttpRequest&, const RouteContext& ctx, Respond respond) {
        json::object o{{"name", ctx.principal->name},
                       {"role", config::RoleName(ctx.principal->role)},
                       {"center", center}};
        respond(HttpResponse::Json(200, json::serialize(o)));
      });
}

}  // namespace edwc::gateway
