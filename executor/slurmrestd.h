// A minimal HTTP/1.1 client for slurmrestd over its unix socket (rest_auth/local: the
// peer's uid authenticates, so no token is sent), shared by the `slurm` capacity source
// and executor. POSIX calls only (no Asio); each request opens its own connection
// ("Connection: close"). Blocking: callers run it on their own threads. Thread-safe (no
// shared state).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace edwc::executor::slurmrestd {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// `method` (GET, POST, DELETE) `target` on the server at unix socket `socket_path`, with a
// JSON `body` when non-empty, within `timeout` (connect, write and the whole response).
// Transport failures are kUnavailable; a malformed or oversized answer kCorruption.
core::Result<HttpResponse> Request(const std::string& socket_path, std::string_view method,
                                   const std::string& target, std::string_view body,
                                   std::chrono::milliseconds timeout);

// The start of `body` (at most 200 bytes), trailing white space removed, for messages.
std::string Excerpt(std::string_view body);

}  // namespace edwc::executor::slurmrestd
