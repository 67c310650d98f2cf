#include "gateway/http_types.h"

#include "core/json.h"

namespace edwc::gateway {

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  const size_t q = t.find('?');
  return q == std::string_view::npos ? t : t.substr(0, q);
}

std::string_view HttpRequest::query() const {
  std::string_view t = target;
  const size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return {};
}

bool HttpRequest::QueryParam(std::string_view name, std::string* value) const {
  std::string_view q = query();
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    *value = eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
    return true;
  }
  return false;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Error(const core::Status& status) {
  HttpResponse r = Json(HttpStatusFor(status.code()), core::ErrorBody(status));
  if (status.code() == core::Code::kUnauthenticated) {
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"edwc\"");
  }
  return r;
}

int HttpStatusFor(core::Code code) {
  switch (code) {
    case core::Code::kOk:
      return 200;
    case core::Code::kInvalidArgument:
      return 400;
    case core::Code::kUnauthenticated:
      return 401;
    case core::Code::kPermissionDenied:
      return 403;
    case core::Code::kNotFound:
      return 404;
    case core::Code::kMethodNotAllowed:
      return 405;
    case core::Code::kAlreadyExists:
      return 409;
    case core::Code::kConflict:
      return 409;
    case core::Code::kFailedPrecondition:
      return 409;
    case core::Code::kRequestTimeout:
      return 408;
    case core::Code::kPayloadTooLarge:
      return 413;
    case core::Code::kUriTooLong:
      return 414;
    case core::Code::kResourceExhausted:
      return 429;
    case core::Code::kHeadersTooLarge:
      return 431;
    case core::Code::kUnavailable:
      return 503;
    case core::Code::kIoError:
      return 500;
    case core::Code::kCorruption:
      return 500;
    case core::Code::kInternal:
      return 500;
  }
  return 500;
}

}  // namespace edwc::gateway
