#include "core/status.h"

namespace edwc::core {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kNotFound:
      return "not_found";
    case Code::kAlreadyExists:
      return "already_exists";
    case Code::kConflict:
      return "conflict";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kPermissionDenied:
      return "permission_denied";
    case Code::kMethodNotAllowed:
      return "method_not_allowed";
    case Code::kPayloadTooLarge:
      return "payload_too_large";
    case Code::kHeadersTooLarge:
      return "headers_too_large";
    case Code::kUriTooLong:
      return "uri_too_long";
    case Code::kRequestTimeout:
      return "request_timeout";
    case Code::kResourceExhausted:
      return "resource_exhausted";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kIoError:
      return "io_error";
    case Code::kCorruption:
      return "corruption";
    case Code::kInternal:
      return "internal";
  }
  return "internal";  // an out-of-range enum value is itself a bug
}

std::string Status::ToString() const {
  std::string out(CodeName(code_));
  if (ok()) return out;
  out += ": ";
  if (!field_.empty()) out.append(field_).append(": ");
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  message.append(": ").append(message_);
  return Status(code_, std::move(message), field_);
}

}  // namespace edwc::core
