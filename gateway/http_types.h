// HTTP request and response as plain values, free of Beast types so that route handlers
// and everything above them compile without Beast or Asio headers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace edwc::gateway {

struct HttpRequest {
  std::string method;              // "GET", "POST", ...
  std::string target;              // as sent: "/v1/centers?x=1"
  std::string_view path() const;   // target without the query
  std::string_view query() const;  // after '?', or empty
  // Header names are stored lower-case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer_center;  // center id from the client certificate (peer listener only)

  // Value of header `lower_name`, or empty.
  std::string_view Header(std::string_view lower_name) const;
  // Value of query parameter `name` (not percent-decoded), or nullopt-like empty+false.
  bool QueryParam(std::string_view name, std::string* value) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // When set, sent instead of `body`: a cached rendering shared by many responses
  // (the server only reads it).
  std::shared_ptr<const std::string> shared_body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close = false;  // ask the server to close the connection after this response

  static HttpResponse Json(int status, std::string body);
  // The JSON error body for `status` with the HTTP status mapped from its code.
  static HttpResponse Error(const core::Status& status);
};

// Maps an error code to its HTTP status (kInvalidArgument -> 400, kNotFound -> 404, ...).
int HttpStatusFor(core::Code code);

// Answers a request exactly once, from any thread. Copyable; cheap.
using Respond = std::function<void(HttpResponse)>;

// The server calls the handler on the connection's strand. A handler answers by calling
// `respond`, at once or later from any thread (e.g. after a durable write).
using Handler = std::function<void(HttpRequest&, Respond)>;

}  // namespace edwc::gateway
