// Status and Result<T>: errors as values, checked at every call (LevelDB's Status).
//
// A Status carries a code, a human message and, where the problem is one field of an
// input, that field's name ("count", "pricing.models.h800.per_device_hour"). The
// gateway maps codes to HTTP statuses and renders
//   {"error":{"code":"invalid_argument","message":"...","field":"..."}}.
// Thread-safe as a value type (no shared state).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace edwc::core {

enum class Code {
  kOk,
  kInvalidArgument,     // bad input: malformed JSON, bad field, bad config value
  kNotFound,            // no such route, center, job, key
  kAlreadyExists,       // create of something that exists with the same content
  kConflict,            // same id, different content (idempotency violation)
  kUnauthenticated,     // no or unknown credentials
  kPermissionDenied,    // known credentials, wrong role
  kMethodNotAllowed,    // route exists, method does not
  kPayloadTooLarge,     // body over the configured limit
  kHeadersTooLarge,     // request header over the configured limit
  kUriTooLong,          // request target over the configured limit
  kRequestTimeout,      // a request that started did not arrive in time
  kResourceExhausted,   // capacity, rate or connection limit
  kFailedPrecondition,  // state does not allow the operation (not ready, expired)
  kUnavailable,         // transient: peer down, shutting down; retry may succeed
  kIoError,             // disk or socket failure
  kCorruption,          // stored data fails its checks
  kInternal,            // a bug: something that cannot happen did
};

// Stable lower_snake name used in JSON error bodies and metrics ("invalid_argument").
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& field() const { return field_; }

  // "invalid_argument: count: must be at least 1"
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context + ": "`.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string field_;
};

inline Status InvalidArgument(std::string message, std::string field = {}) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}
inline Status NotFound(std::string message, std::string field = {}) {
  return Status(Code::kNotFound, std::move(message), std::move(field));
}
inline Status Internal(std::string message) { return Status(Code::kInternal, std::move(message)); }
inline Status IoError(std::string message) { return Status(Code::kIoError, std::move(message)); }

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an OK Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace edwc::core

// Propagates a non-OK Status from an expression yielding Status.
#define EDWC_RETURN_IF_ERROR(expr)     \
  do {                                 \
    ::edwc::core::Status _st = (expr); \
    if (!_st.ok()) return _st;         \
  } while (0)

#define EDWC_CONCAT_INNER(a, b) a##b
#define EDWC_CONCAT(a, b) EDWC_CONCAT_INNER(a, b)
// EDWC_ASSIGN_OR_RETURN(auto x, Foo()); declares x from a Result or returns its Status.
#define EDWC_ASSIGN_OR_RETURN(decl, expr) \
  EDWC_ASSIGN_OR_RETURN_IMPL(EDWC_CONCAT(_res_, __LINE__), decl, expr)
#define EDWC_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  decl = std::move(tmp).value()
