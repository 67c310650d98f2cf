// A parsed Beast request header as the router's HttpRequest: method, target and headers
// (names lower-cased); the body is read, or streamed, separately. Shared by the server
// (gateway/http_server.cc) and the HTTP fuzz target (fuzz/http_router_fuzz.cc), so that
// what is fuzzed is what the server hands the router. Beast is included: only for
// translation units that parse HTTP already.
#pragma once

#include <boost/beast/http/message.hpp>
#include <cctype>
#include <string>
#include <utility>

#include "gateway/http_types.h"

namespace edwc::gateway {

inline HttpRequest ToHttpRequest(const boost::beast::http::request_header<>& r) {
  HttpRequest req;
  req.method = std::string(r.method_string());
  req.target = std::string(r.target());
  for (const auto& field : r) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  return req;
}

}  // namespace edwc::gateway
