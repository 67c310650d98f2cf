// HttpServer: one HTTPS listener. TLS 1.2/1.3 with modern ciphers (or 1.3 only, and a
// required, CA-verified client certificate, for the peer listener), HTTP/1.1 keep-alive,
// one coroutine per connection on its own strand, limits and timeouts on everything:
// handshake, the wait for a request (idle), reading one request, writing one response;
// a request that started and did not arrive in time gets 408; header, request-target and
// body size limits (431, 414, 413); a cap on open connections, at which the connection idle
// the longest is closed to make room (or, when none is idle, the new one is refused). Bodies of any
// size stream 1 MiB at a time: requests into an UploadHandler's BodySink (answering `Expect:
// 100-continue` once a sink took them), responses from a BodySource. Drain() stops accepting,
// closes idle connections, lets in-flight requests finish and closes their connections after the
// response.
//
// Certificates reload without a restart: MakeTlsContext, then UseTlsContext. Handshakes
// from then on present the new certificate (and, on the peer listener, verify clients
// against the new CA file); connections already open keep their session.
//
// Thread-safety: Listen before the runtime runs; Drain, the TLS context calls and
// accessors from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gateway/certs.h"
#include "gateway/http_types.h"

namespace edwc::gateway {

class IoRuntime;
class Metrics;

struct TlsSettings {
  std::string cert_file;  // PEM chain of this center
  std::string key_file;
  std::string ca_file;               // for client verification (require_client_cert)
  bool require_client_cert = false;  // mTLS, TLS 1.3 only (peer listener)
  // With require_client_cert: a client whose certificate names a center for which this
  // returns true fails the handshake (revoked centers). Called during handshakes, on I/O
  // threads; must be thread-safe and quick.
  std::function<bool(std::string_view center)> refuse_center;
};

struct ServerSettings {
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0 = ephemeral
  int max_connections = 10000;
  uint32_t header_limit_bytes = 16 * 1024;
  uint32_t url_limit_bytes = 8 * 1024;  // request target; at most header_limit_bytes
  uint64_t body_limit_bytes = 1024 * 1024;
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds read_timeout{15000};
  std::chrono::milliseconds write_timeout{15000};
  std::chrono::milliseconds idle_timeout{60000};
  TlsSettings tls;
};

class HttpServer {
 public:
  // `metrics` may be null; it must outlive the server. `upload` (optional) is asked, for
  // every request once its header is read, whether to stream the body into a BodySink
  // (no body limit then; the read timeout applies to each piece, not the whole body).
  HttpServer(IoRuntime& runtime, ServerSettings settings, Handler handler, Metrics* metrics,
             UploadHandler upload = nullptr);
  ~HttpServer();

  // Loads TLS material, binds and starts accepting. Returns the bound port.
  core::Result<uint16_t> Listen();

  // Stops accepting and winds connections down; `done` runs (on an I/O thread) once the
  // last connection has closed.
  void Drain(std::function<void()> done);

  int open_connections() const;

  // A TLS context for this listener's settings made from `tls` (read and checked
  // already), for UseTlsContext. Made apart from its use so that a reload can make every
  // context it needs before it changes any. Immutable once made.
  struct TlsContext;
  core::Result<std::shared_ptr<TlsContext>> MakeTlsContext(const CenterTls& tls) const;
  // New handshakes use `context` from now on.
  void UseTlsContext(std::shared_ptr<TlsContext> context);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
