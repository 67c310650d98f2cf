#include "gateway/router.h"

#include <algorithm>
#include <utility>

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

// Records an upload route's answer in Metrics like Dispatch records any other: the status
// Finish answers with, or the error a Write refused with; an Abort counts as 499 (the
// client closed the request), and latency runs from the header to the end.
class RecordingSink : public BodySink {
 public:
  RecordingSink(std::shared_ptr<BodySink> inner, Metrics* metrics, int metrics_id,
                std::chrono::steady_clock::time_point started)
      : inner_(std::move(inner)), record_{metrics, metrics_id, started} {}

  // The callbacks carry their own copy of the recorder: they may run after the server
  // has let go of this sink.
  void Write(std::string_view piece, std::function<void(core::Status)> done) override {
    inner_->Write(piece, [record = record_, done = std::move(done)](core::Status st) {
      if (!st.ok()) record(HttpStatusFor(st.code()));
      done(std::move(st));
    });
  }
  void Finish(Respond respond) override {
    inner_->Finish([record = record_, respond = std::move(respond)](HttpResponse r) {
      record(r.status);
      respond(std::move(r));
    });
  }
  void Abort(const core::Status& why) override {
    record_(kClientClosedRequest);
    inner_->Abort(why);
  }

 private:
  static constexpr int kClientClosedRequest = 499;
  struct Recorder {
    Metrics* metrics;
    int metrics_id;
    std::chrono::steady_clock::time_point started;
    void operator()(int status) const {
      if (metrics) {
        metrics->RecordRequest(metrics_id, status, std::chrono::steady_clock::now() - started);
      }
    }
  };

  std::shared_ptr<BodySink> inner_;
  Recorder record_;
};

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

void Router::AddUpload(std::string_view method, std::string_view pattern, Access access,
                       UploadRouteHandler handler) {
  Add(method, pattern, std::move(access), nullptr);
  routes_.back().upload = std::move(handler);
  has_uploads_ = true;
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
  if (!found->handler) {
    return record(HttpResponse::Error(
        core::Internal(found->pattern +
                       " streams its request body, but the server was not given the "
                       "router's upload handler")));
  }
  RouteContext ctx;
  core::Status allowed = Authorize(*found, request, &ctx);
  if (!allowed.ok()) return record(HttpResponse::Error(allowed));
  Match(*found, path, &ctx);
  found->handler(request, ctx, std::move(record));
}

core::Status Router::Authorize(const Route& route, const HttpRequest& request,
                               RouteContext* ctx) const {
  if (route.access.is_public) return core::Status::Ok();
  auto principal = auth_->Authenticate(request.Header("authorization"));
  if (!principal.ok()) return principal.status();
  const auto& roles = route.access.roles;
  if (std::find(roles.begin(), roles.end(), (*principal)->role) == roles.end()) {
    return core::Status(core::Code::kPermissionDenied,
                        "role " + std::string(config::RoleName((*principal)->role)) + " may not " +
                            request.method + " " + route.pattern + "; it needs " + RoleList(roles));
  }
  ctx->principal = *principal;
  return core::Status::Ok();
}

core::Result<std::shared_ptr<BodySink>> Router::DispatchUpload(HttpRequest& head) const {
  if (!has_uploads_) return std::shared_ptr<BodySink>();
  const auto started = std::chrono::steady_clock::now();
  const std::string_view path = head.path();
  // The route Dispatch would choose; only if it is an upload route is the body streamed.
  const Route* found = nullptr;
  for (const Route& r : routes_) {
    if (r.method == head.method && Match(r, path, nullptr)) {
      found = &r;
      break;
    }
  }
  if (found == nullptr || !found->upload) return std::shared_ptr<BodySink>();
  auto record = [this, found, started](const core::Status& st) {
    if (metrics_) {
      metrics_->RecordRequest(found->metrics_id, HttpStatusFor(st.code()),
                              std::chrono::steady_clock::now() - started);
    }
    return st;
  };
  RouteContext ctx;
  core::Status allowed = Authorize(*found, head, &ctx);
  if (!allowed.ok()) return record(allowed);
  Match(*found, path, &ctx);
  auto sink = found->upload(head, ctx);
  if (!sink.ok()) return record(sink.status());
  if (*sink == nullptr) return record(core::Internal(found->pattern + " gave no body sink"));
  return std::shared_ptr<BodySink>(
      std::make_shared<RecordingSink>(std::move(*sink), metrics_, found->metrics_id, started));
}

}  // namespace edwc::gateway
