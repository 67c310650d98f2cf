// Router: dispatches requests by method and path pattern ("/v1/centers/{id}") to route
// handlers, checks the caller's role, answers 404 and 405 (with Allow), and records
// every answer in Metrics under its route pattern. With a RateLimiter, each caller (a
// token's name on routes that need a token, a peer center on the peer listener) is held to
// its rate: over it, 429 with Retry-After.
//
// Every request gets a request id (core/request_id.h): the caller's X-Request-Id when it
// is valid, else a new one. It is current while the handler runs, comes back in the
// x-request-id header of the answer (errors included; not on an upload its route refuses,
// which the server answers), and names the request's access line (component
// "access", one per answer, when core::AccessLogEnabled()).
//
// Routes are added before serving; Dispatch and DispatchUpload are thread-safe afterwards.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/center_config.h"
#include "gateway/auth.h"
#include "gateway/http_types.h"

namespace edwc::gateway {

class Metrics;
class RateLimiter;

// What a route handler sees beyond the request.
struct RouteContext {
  std::vector<std::pair<std::string, std::string>> params;  // {"id": "zhongwei"}
  const Principal* principal = nullptr;                     // null on public routes
  std::string_view Param(std::string_view name) const;
};

using RouteHandler = std::function<void(HttpRequest&, const RouteContext&, Respond)>;
// For routes whose body is streamed (AddUpload): called with the request's header only.
using UploadRouteHandler =
    std::function<core::Result<std::shared_ptr<BodySink>>(HttpRequest& head, const RouteContext&)>;

// Who may call a route: nobody needs a token (kPublic), or one of `roles`.
struct Access {
  bool is_public = false;
  std::vector<config::Role> roles;
  static Access Public() { return {true, {}}; }
  static Access Roles(std::vector<config::Role> r) { return {false, std::move(r)}; }
};

// A registered route as its callers see it: what the API description must document.
struct RouteInfo {
  std::string method;
  std::string pattern;
  Access access;
};

class Router {
 public:
  // `limiter` (optional) must outlive the router.
  Router(const Authenticator* auth, Metrics* metrics, RateLimiter* limiter = nullptr);

  // REQUIRES: before serving. `pattern` segments in braces are captured.
  void Add(std::string_view method, std::string_view pattern, Access access, RouteHandler handler);

  // A route whose request body is streamed into the sink the handler returns (uploads of
  // any size). Same access rules and metrics as Add. REQUIRES: before serving.
  void AddUpload(std::string_view method, std::string_view pattern, Access access,
                 UploadRouteHandler handler);

  // The Handler to give the HttpServer.
  void Dispatch(HttpRequest& request, Respond respond) const;
  // The UploadHandler to give the HttpServer: nullptr (read the body whole and Dispatch,
  // which also answers 404 and 405) unless the route Dispatch would choose is an upload
  // route; then the caller's token and role are checked (an error status when they fail,
  // before any of the body is read) and the route's sink is returned, its answer recorded
  // in Metrics like any other (an upload the client abandons counts as status 499).
  core::Result<std::shared_ptr<BodySink>> DispatchUpload(HttpRequest& head) const;

  // The route's successful answers are access-logged at debug, not info: for the traffic
  // centers exchange all the time (gossip, status polls), which would drown the rest.
  // Its errors still log at info. REQUIRES: the route was added; before serving.
  void MarkRoutine(std::string_view method, std::string_view pattern);

  // Every route, in the order added (tests compare them with gateway/openapi.json).
  std::vector<RouteInfo> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Access access;
    RouteHandler handler;
    UploadRouteHandler upload;  // set for AddUpload routes (handler empty)
    int metrics_id = 0;
    bool routine = false;  // MarkRoutine
  };
  static bool Match(const Route& r, std::string_view path, RouteContext* ctx);
  // The caller's token and role against the route's Access (sets ctx->principal), then
  // the caller's rate; over it, *retry_after_ns says when to come back.
  core::Status Authorize(const Route& route, const HttpRequest& request, RouteContext* ctx,
                         int64_t* retry_after_ns) const;

  const Authenticator* auth_;
  Metrics* metrics_;
  RateLimiter* limiter_;
  std::vector<Route> routes_;
  bool has_uploads_ = false;  // spares DispatchUpload a route scan on servers without any
};

}  // namespace edwc::gateway
