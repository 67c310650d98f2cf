#include "gateway/router.h"

#include <algorithm>

#include "gateway/metrics.h"

namespace edwc::gateway {

namespace {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const size_t j = path.find('/', i);
    out.emplace_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return out;
}

std::string RoleList(const std::vector<config::Role>& roles) {
  std::string out;
  for (config::Role r : roles) {
    if (!out.empty()) out += " or ";
    out += config::RoleName(r);
  }
  return out;
}

}  // namespace

std::string_view RouteContext::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Router::Router(const Authenticator* auth, Metrics* metrics) : auth_(auth), metrics_(metrics) {}

void Router::Add(std::string_view method, std::string_view pattern, Access access,
                 RouteHandler handler) {
  Route r;
  r.method = std::string(method);
  r.pattern = std::string(pattern);
  r.segments = SplitPath(pattern);
  r.access = std::move(access);
  r.handler = std::move(handler);
  r.metrics_id = metrics_ ? metrics_->RegisterRoute(pattern) : 0;
  routes_.push_back(std::move(r));
}

bool Router::Match(const Route& r, std::string_view path, RouteContext* ctx) {
  // Compare segment by segment without allocating for the common, literal case.
  size_t seg = 0;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (seg >= r.segments.size()) return false;
    const std::string& want = r.segments[seg];
    std::string_view got = path.substr(i, j - i);
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (ctx) ctx->params.emplace_back(want.substr(1, want.size() - 2), std::string(got));
    } else if (want != got) {
      return false;
    }
    ++seg;
    i = j;
  }
  // A trailing slash on a route ending in "/" (like /ui/) is kept by the pattern itself.
  return seg == r.segments.size();
}

void Router::Dispatch(HttpRequest& request, Respond respond) const {
  const auto started = std::chrono::steady_clock::now();
  const std::string_view path = request.path();
  const Route* found = nullptr;
  std::string allow;
  for (const Route& r : routes_) {
    if (!Match(r, path, nullptr)) continue;
    if (r.method == request.method) {
      found = &r;
      break;
    }
    if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
  }
  const int metrics_id = found ? found->metrics_id : 0;
  Metrics* metrics = metrics_;
  Respond record = [metrics, metrics_id, started, respond = std::move(respond)](HttpResponse r) {
    if (metrics) {
      metrics->RecordRequest(metrics_id, r.status, std::chrono::steady_clock::now() - started);
    }
    respond(std::move(r));
  };
  if (found == nullptr) {
    if (!allow.empty()) {
      HttpResponse r = HttpResponse::Error(core::Status(
          core::Code::kMethodNotAllowed, "method " + request.method + " is not allowed on " +
                                             std::string(path) + "; allowed: " + allow));
      r.headers.emplace_back("Allow", allow);
      return record(std::move(r));
    }
    return record(HttpResponse::Error(
        core::NotFound("no route for " + request.method + " " + std::string(path))));
  }
  RouteContext ctx;
  if (!found->access.is_public) {
    auto principal = auth_->Authenticate(request.Header("authorization"));
    if (!principal.ok()) return record(HttpResponse::Error(principal.status()));
    const auto& roles = found->access.roles;
    if (std::find(roles.begin(), roles.end(), (*principal)->role) == roles.end()) {
      return record(HttpResponse::Error(core::Status(
          core::Code::kPermissionDenied,
          "role " + std::string(config::RoleName((*principal)->role)) + " may not " +
              request.method + " " + found->pattern + "; it needs " + RoleList(roles))));
    }
    ctx.principal = *principal;
  }
  Match(*found, path, &ctx);
  found->handler(request, ctx, std::move(record));
}

}  // namespace edwc::gateway
