#include "gateway/router.h"

#include <algorithm>
#include <utility>

#include "core/log.h"
#include "core/request_id.h"
#include "gateway/metrics.h"
#include "gateway/rate_limiter.h"

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

// The request's id: the caller's X-Request-Id when valid, else a new one. It is written
// back into the request, so that DispatchUpload and Dispatch (both called for one
// request) and the handlers see the same id.
std::string AdoptRequestId(HttpRequest& request) {
  const std::string_view given = request.Header("x-request-id");
  if (core::IsValidRequestId(given)) return std::string(given);
  std::string id = core::NewRequestId();
  bool replaced = false;
  for (auto& [name, value] : request.headers) {
    if (name == "x-request-id") {
      value = id;
      replaced = true;
    }
  }
  if (!replaced) request.headers.emplace_back("x-request-id", id);
  return id;
}

int64_t BytesOut(const HttpResponse& r) {
  if (r.source) return r.source_length;
  return static_cast<int64_t>(r.shared_body ? r.shared_body->size() : r.body.size());
}

// What the answer to one request records: its status and latency in Metrics under the
// route pattern, the x-request-id response header, and, when access lines were on at
// dispatch, one access line. Copied into callbacks that may run after the router's call
// returned, on any thread.
struct AnswerRecord {
  Metrics* metrics = nullptr;
  int metrics_id = 0;
  std::chrono::steady_clock::time_point started;
  std::string request_id;
  bool access = false;   // the fields below are set only then
  bool routine = false;  // Router::MarkRoutine: successes at debug
  std::string method, route, path, peer, role, caller;

  // Before the route is known; `route` is "unmatched" (as in Metrics) until then.
  static AnswerRecord Begin(HttpRequest& request, Metrics* metrics) {
    AnswerRecord r;
    r.metrics = metrics;
    r.started = std::chrono::steady_clock::now();
    r.request_id = AdoptRequestId(request);
    r.access = core::AccessLogEnabled();
    if (r.access) {
      r.method = request.method;
      r.route = "unmatched";
      r.path = std::string(request.path());
      r.peer = request.peer_center;
    }
    return r;
  }
  void SetRoute(int id, const std::string& pattern, bool is_routine) {
    metrics_id = id;
    routine = is_routine;
    if (access) route = pattern;
  }
  void SetCaller(const Principal* principal) {
    if (access && principal != nullptr) {
      role = std::string(config::RoleName(principal->role));
      caller = principal->name;
    }
  }

  void Answer(HttpResponse& r) const {
    r.headers.emplace_back("x-request-id", request_id);
    Record(r.status, BytesOut(r));
  }
  void Record(int status, int64_t bytes_out) const {
    const auto took = std::chrono::steady_clock::now() - started;
    if (metrics) metrics->RecordRequest(metrics_id, status, took);
    if (!access) return;
    std::vector<core::LogField> fields{
        {"method", method},
        {"route", route},
        {"path", path},
        {"status", status},
        {"duration_ms", std::chrono::duration<double, std::milli>(took).count()},
        {"bytes_out", bytes_out}};
    if (!peer.empty()) fields.emplace_back("peer", peer);
    if (!role.empty()) fields.emplace_back("role", role);
    if (!caller.empty()) fields.emplace_back("caller", caller);
    // The answer may come from any thread: the line names this request whatever runs it.
    core::ScopedRequestId scope(request_id);
    const core::LogLevel level = status >= 500             ? core::LogLevel::kWarn
                                 : routine && status < 400 ? core::LogLevel::kDebug
                                                           : core::LogLevel::kInfo;
    core::Log(level, "access", method + " " + path + " " + std::to_string(status), fields);
  }
};

// Records an upload route's answer like Dispatch records any other: the status Finish
// answers with, or the error a Write refused with; an Abort counts as 499 (the client
// closed the request), and latency runs from the header to the end. The upload's work
// runs under its request id.
class RecordingSink : public BodySink {
 public:
  RecordingSink(std::shared_ptr<BodySink> inner, AnswerRecord record)
      : inner_(std::move(inner)), record_(std::move(record)) {}

  // The callbacks carry their own copy of the record: they may run after the server has
  // let go of this sink.
  void Write(std::string_view piece, std::function<void(core::Status)> done) override {
    core::ScopedRequestId scope(record_.request_id);
    inner_->Write(piece, [record = record_, done = std::move(done)](core::Status st) {
      if (!st.ok()) record.Record(HttpStatusFor(st.code()), 0);
      done(std::move(st));
    });
  }
  void Finish(Respond respond) override {
    core::ScopedRequestId scope(record_.request_id);
    inner_->Finish([record = record_, respond = std::move(respond)](HttpResponse r) {
      record.Answer(r);
      respond(std::move(r));
    });
  }
  void Abort(const core::Status& why) override {
    core::ScopedRequestId scope(record_.request_id);
    record_.Record(kClientClosedRequest, 0);
    inner_->Abort(why);
  }

 private:
  static constexpr int kClientClosedRequest = 499;

  std::shared_ptr<BodySink> inner_;
  AnswerRecord record_;
};

}  // namespace

std::string_view RouteContext::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Router::Router(const Authenticator* auth, Metrics* metrics, RateLimiter* limiter)
    : auth_(auth), metrics_(metrics), limiter_(limiter) {}

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

void Router::MarkRoutine(std::string_view method, std::string_view pattern) {
  for (Route& r : routes_) {
    if (r.method == method && r.pattern == pattern) r.routine = true;
  }
}

std::vector<RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& r : routes_) out.push_back({r.method, r.pattern, r.access});
  return out;
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
  AnswerRecord record = AnswerRecord::Begin(request, metrics_);
  // The handler, and what it logs, runs under the request's id.
  core::ScopedRequestId scope(record.request_id);
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
  if (found) record.SetRoute(found->metrics_id, found->pattern, found->routine);
  const auto answer = [&record, &respond](HttpResponse r) {
    record.Answer(r);
    respond(std::move(r));
  };
  if (found == nullptr) {
    if (!allow.empty()) {
      HttpResponse r = HttpResponse::Error(core::Status(
          core::Code::kMethodNotAllowed, "method " + request.method + " is not allowed on " +
                                             std::string(path) + "; allowed: " + allow));
      r.headers.emplace_back("Allow", allow);
      return answer(std::move(r));
    }
    return answer(HttpResponse::Error(
        core::NotFound("no route for " + request.method + " " + std::string(path))));
  }
  if (!found->handler) {
    return answer(HttpResponse::Error(
        core::Internal(found->pattern +
                       " streams its request body, but the server was not given the "
                       "router's upload handler")));
  }
  RouteContext ctx;
  int64_t retry_after_ns = 0;
  core::Status allowed = Authorize(*found, request, &ctx, &retry_after_ns);
  record.SetCaller(ctx.principal);
  if (!allowed.ok()) {
    HttpResponse r = HttpResponse::Error(allowed);
    if (retry_after_ns > 0) {
      // Whole seconds (RFC 9110 10.2.3), rounded up; the message says the milliseconds.
      r.headers.emplace_back("Retry-After",
                             std::to_string((retry_after_ns + 999'999'999) / 1'000'000'000));
    }
    return answer(std::move(r));
  }
  Match(*found, path, &ctx);
  found->handler(request, ctx,
                 [record = std::move(record), respond = std::move(respond)](HttpResponse r) {
                   record.Answer(r);
                   respond(std::move(r));
                 });
}

core::Status Router::Authorize(const Route& route, const HttpRequest& request, RouteContext* ctx,
                               int64_t* retry_after_ns) const {
  if (!route.access.is_public) {
    auto principal = auth_->Authenticate(request.Header("authorization"));
    if (!principal.ok()) return principal.status();
    const auto& roles = route.access.roles;
    if (std::find(roles.begin(), roles.end(), (*principal)->role) == roles.end()) {
      return core::Status(core::Code::kPermissionDenied,
                          "role " + std::string(config::RoleName((*principal)->role)) +
                              " may not " + request.method + " " + route.pattern + "; it needs " +
                              RoleList(roles));
    }
    ctx->principal = *principal;
  }
  if (limiter_ == nullptr || !limiter_->enabled()) return core::Status::Ok();
  // Public api routes (health, metrics, the dashboard's files) name no caller to limit.
  const std::string& caller = ctx->principal ? ctx->principal->name : request.peer_center;
  if (caller.empty()) return core::Status::Ok();
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  if (limiter_->Allow(caller, now_ns, retry_after_ns)) return core::Status::Ok();
  return core::Status(core::Code::kResourceExhausted,
                      std::string(ctx->principal ? "token " : "center ") + caller +
                          " is over its rate limit; retry in " +
                          std::to_string((*retry_after_ns + 999'999) / 1'000'000) + " ms");
}

core::Result<std::shared_ptr<BodySink>> Router::DispatchUpload(HttpRequest& head) const {
  if (!has_uploads_) return std::shared_ptr<BodySink>();
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
  AnswerRecord record = AnswerRecord::Begin(head, metrics_);
  record.SetRoute(found->metrics_id, found->pattern, found->routine);
  core::ScopedRequestId scope(record.request_id);
  // The server answers a refusal itself (without the x-request-id header).
  auto refuse = [&record](const core::Status& st) {
    record.Record(HttpStatusFor(st.code()), 0);
    return st;
  };
  RouteContext ctx;
  int64_t retry_after_ns = 0;  // the server's refusal carries no headers; the message says
  core::Status allowed = Authorize(*found, head, &ctx, &retry_after_ns);
  record.SetCaller(ctx.principal);
  if (!allowed.ok()) return refuse(allowed);
  Match(*found, path, &ctx);
  auto sink = found->upload(head, ctx);
  if (!sink.ok()) return refuse(sink.status());
  if (*sink == nullptr) return refuse(core::Internal(found->pattern + " gave no body sink"));
  return std::shared_ptr<BodySink>(
      std::make_shared<RecordingSink>(std::move(*sink), std::move(record)));
}

}  // namespace edwc::gateway
