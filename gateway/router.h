// Router: dispatches requests by method and path pattern ("/v1/centers/{id}") to route
// handlers, checks the caller's role, answers 404 and 405 (with Allow), and records
// every answer in Metrics under its route pattern.
//
// Routes are added before serving; Dispatch is thread-safe afterwards.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/center_config.h"
#include "gateway/auth.h"
#include "gateway/http_types.h"

namespace edwc::gateway {

class Metrics;

// What a route handler sees beyond the request.
struct RouteContext {
  std::vector<std::pair<std::string, std::string>> params;  // {"id": "zhongwei"}
  const Principal* principal = nullptr;                     // null on public routes
  std::string_view Param(std::string_view name) const;
};

using RouteHandler = std::function<void(HttpRequest&, const RouteContext&, Respond)>;

// Who may call a route: nobody needs a token (kPublic), or one of `roles`.
struct Access {
  bool is_public = false;
  std::vector<config::Role> roles;
  static Access Public() { return {true, {}}; }
  static Access Roles(std::vector<config::Role> r) { return {false, std::move(r)}; }
};

class Router {
 public:
  Router(const Authenticator* auth, Metrics* metrics);

  // REQUIRES: before serving. `pattern` segments in braces are captured.
  void Add(std::string_view method, std::string_view pattern, Access access, RouteHandler handler);

  // The Handler to give the HttpServer.
  void Dispatch(HttpRequest& request, Respond respond) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Access access;
    RouteHandler handler;
    int metrics_id = 0;
  };
  static bool Match(const Route& r, std::string_view path, RouteContext* ctx);

  const Authenticator* auth_;
  Metrics* metrics_;
  std::vector<Route> routes_;
};

}  // namespace edwc::gateway
