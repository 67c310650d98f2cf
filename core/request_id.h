// Request ids: the id that names one request in the logs of every center it touches. The
// gateway takes the caller's `X-Request-Id` when it is valid, or makes one, answers with
// it, and sends it on the calls to other centers that the request causes.
//
// The current request id is a per-thread value, set by a ScopedRequestId for as long as
// work for one request runs on the thread; core::Log adds it to every line. Work handed
// to another thread keeps it only where the hand-off captures and restores it (the
// gateway's WorkerPool, PeerClient callbacks, Store::WriteAsync callbacks).
//
// Thread-safe: every function touches only the calling thread's state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace edwc::core {

inline constexpr size_t kMaxRequestIdLength = 64;

// 1..64 characters of [A-Za-z0-9._:-]: safe in a header, a log line and a shell.
bool IsValidRequestId(std::string_view id);

// 16 lowercase hex digits from 64 random bits (a per-thread generator, no lock).
std::string NewRequestId();

// The calling thread's current request id; empty outside any request. The view stays
// valid until the innermost ScopedRequestId of this thread ends.
std::string_view CurrentRequestId();

// Makes `id` the thread's current request id until destroyed, then restores the one
// before (scopes nest). An empty `id` means "no request" for the scope's duration.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

}  // namespace edwc::core
