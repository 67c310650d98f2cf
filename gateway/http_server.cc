#include "gateway/http_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <utility>

#include "core/json.h"
#include "gateway/beast_request.h"
#include "gateway/certs.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/pem.h"

namespace edwc::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using core::Code;
using core::Status;

namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

// Streamed bodies move in pieces of this size: the most one connection holds of a body.
constexpr size_t kPieceBytes = 1 << 20;

// TLS 1.2 suites allowed on the api listener: forward secret AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Status TlsError(std::string what, const boost::system::error_code& ec) {
  return Status(Code::kInvalidArgument, what + ": " + ec.message());
}

// The center id from the verified client certificate's SAN URI, or empty.
std::string PeerCenterId(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return {};
  auto pem = CertificatePem(cert);
  auto id = pem.ok() ? CenterIdFromCertificatePem(*pem) : core::Result<std::string>(pem.status());
  return id.ok() ? *id : std::string();
}

// Waits for an answer that may come at once or later from any thread: a handler's
// response, a sink's go-ahead for the next piece, a source's next piece.
template <typename T>
class Slot : public std::enable_shared_from_this<Slot<T>> {
 public:
  explicit Slot(net::any_io_executor ex) : executor_(std::move(ex)) {}

  void Set(T value) {
    bool wake;
    {
      std::lock_guard lock(mu_);
      if (ready_) return;  // answered twice: the first answer stands
      value_ = std::move(value);
      ready_ = true;
      wake = waiting_;
    }
    if (wake) net::post(executor_, [self = this->shared_from_this()] { self->timer_->cancel(); });
  }

  // Most answers come before Take; only a later one pays for a timer.
  net::awaitable<T> Take() {
    {
      std::lock_guard lock(mu_);
      if (!ready_) {
        timer_.emplace(executor_, net::steady_timer::time_point::max());
        waiting_ = true;
      }
    }
    if (timer_) co_await timer_->async_wait(kUseTuple);  // cancelled by Set
    std::lock_guard lock(mu_);
    co_return std::move(value_);
  }

 private:
  net::any_io_executor executor_;
  std::mutex mu_;
  bool ready_ = false;                      // GUARDED_BY(mu_)
  bool waiting_ = false;                    // GUARDED_BY(mu_)
  T value_{};                               // GUARDED_BY(mu_)
  std::optional<net::steady_timer> timer_;  // created and awaited on the connection's executor
};

using ResponseSlot = Slot<HttpResponse>;
using PieceSlot = Slot<std::pair<Status, std::string>>;

// Status line and headers, announcing a body of `content_length` bytes.
std::string SerializeHead(const HttpResponse& out, unsigned version, bool keep_alive,
                          uint64_t content_length, size_t reserve = 0) {
  const auto status = static_cast<http::status>(out.status);
  const std::string_view reason = http::obsolete_reason(status);
  std::string wire;
  wire.reserve(160 + reserve);
  wire.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  wire.append(std::to_string(out.status)).append(" ").append(reason).append("\r\n");
  wire.append("Server: edwc\r\n");
  if (!out.content_type.empty())
    wire.append("Content-Type: ").append(out.content_type).append("\r\n");
  for (const auto& [name, value] : out.headers) {
    wire.append(name).append(": ").append(value).append("\r\n");
  }
  // 1xx, 204 and 304 answers have no body and send no Content-Length (RFC 9110 8.6): on a
  // 304 it would have to be the length of the representation, not of this empty answer.
  if (out.status >= 200 && out.status != 204 && out.status != 304) {
    wire.append("Content-Length: ").append(std::to_string(content_length)).append("\r\n");
  }
  if (!keep_alive) {
    wire.append("Connection: close\r\n");
  } else if (version == 10) {
    wire.append("Connection: keep-alive\r\n");
  }
  wire.append("\r\n");
  return wire;
}

const std::string& BodyOf(const HttpResponse& out) {
  return out.shared_body ? *out.shared_body : out.body;
}

// The whole response in one buffer, so that it leaves in one TLS record and one write.
// A response to HEAD carries the headers a GET would, without the body.
std::string SerializeResponse(const HttpResponse& out, unsigned version, bool keep_alive,
                              bool head = false) {
  const std::string& body = BodyOf(out);
  std::string wire = SerializeHead(out, version, keep_alive, body.size(), body.size());
  if (!head) wire.append(body);
  return wire;
}

// Feeds bytes already buffered to `parser` until it stops (after the header when it is
// not eager, at the end of the message when it is) or wants more. need_more is no error.
template <typename Parser>
boost::system::error_code ParseBuffered(Parser& parser, beast::flat_buffer& buffer,
                                        bool header_only) {
  boost::system::error_code ec;
  while (!(header_only ? parser.is_header_done() : parser.is_done()) && buffer.size() > 0) {
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more) return {};
    if (ec || used == 0) break;
  }
  return ec;
}

bool ExpectsContinue(const http::request_header<>& h) {
  return h.version() >= 11 && beast::iequals(h[http::field::expect], "100-continue");
}

}  // namespace

// One open connection, as the sweeper and Drain see it. The session coroutine owns it;
// the server's list points at it while the session runs.
struct Connection {
  using Stream = ssl::stream<tcp::socket>;
  Stream* stream = nullptr;
  net::any_io_executor executor;
  // Steady-clock nanoseconds after which the current phase (handshake, idle wait,
  // reading a request, writing a response) has taken too long. Set by the session;
  // read by the sweeper on any thread.
  std::atomic<int64_t> deadline_ns{std::numeric_limits<int64_t>::max()};
  // Waiting for a next request: set on the connection's executor, read by the acceptor.
  std::atomic<bool> idle{false};
  std::atomic<bool> shed{false};          // chosen by ShedOldestIdle
  bool timed_out = false;                 // on the connection's executor only
  std::list<Connection*>::iterator self;  // GUARDED_BY(Impl::mu)

  void SetDeadline(std::chrono::milliseconds timeout) {
    deadline_ns.store(NowNs() + std::chrono::nanoseconds(timeout).count(),
                      std::memory_order_relaxed);
  }
  // The coarse monotonic clock (a few ms resolution) is plenty for timeouts of
  // seconds and costs less than the precise one, which this reads several times a request.
  static int64_t NowNs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }
};

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(IoRuntime& rt, ServerSettings s, Handler h, Metrics* m, UploadHandler u)
      : runtime(rt),
        settings(std::move(s)),
        handler(std::move(h)),
        upload(std::move(u)),
        metrics(m),
        acceptor(rt.context()),
        sweeper(rt.context()) {}

  IoRuntime& runtime;
  ServerSettings settings;
  Handler handler;
  UploadHandler upload;
  Metrics* metrics;
  tcp::acceptor acceptor;
  net::steady_timer sweeper;
  std::atomic<int> open{0};
  std::atomic<bool> stopped{false};

  // The context new handshakes use. Replaced whole on a reload; a session keeps the one it
  // started with (its SSL holds the SSL_CTX, the session the Asio context around it).
  mutable std::mutex tls_mu;
  std::shared_ptr<TlsContext> current_tls;  // GUARDED_BY(tls_mu)

  std::mutex mu;
  std::list<Connection*> connections;  // GUARDED_BY(mu)
  bool draining = false;               // GUARDED_BY(mu)
  std::atomic<bool> draining_flag{false};
  std::function<void()> drain_done;  // GUARDED_BY(mu)

  net::any_io_executor connection_executor() {
    // A strand per connection only when several threads run the context: with one
    // thread every handler is already serialised, and a strand would only add locking.
    if (runtime.threads() > 1) return net::make_strand(runtime.context());
    return runtime.context().get_executor();
  }

  // A context for these settings, from the files they name (`pem` null, at start) or from
  // material already read and checked (a reload).
  core::Result<std::shared_ptr<TlsContext>> NewTlsContext(const CenterTls* pem) const;
  std::shared_ptr<TlsContext> CurrentTls() const {
    std::lock_guard lock(tls_mu);
    return current_tls;
  }
  net::awaitable<void> Accept();
  net::awaitable<void> Sweep();
  net::awaitable<void> Session(tcp::socket socket);
  // Reads the body of an ordinary request (up to the body limit) into request.body.
  // False when the connection must close; an error has been answered if one could be.
  net::awaitable<bool> ReadBody(Connection& conn, beast::flat_buffer& buffer,
                                http::request_parser<http::empty_body>& header,
                                HttpRequest& request);
  enum class UploadEnd { kComplete, kRefused, kBroken };
  // Streams the body announced by `header` into `sink` piece by piece through `piece`
  // (kPieceBytes, allocated on first use). kRefused: the sink said `*refusal`;
  // kBroken: the client went away or timed out, and the sink was told (Abort).
  net::awaitable<UploadEnd> StreamUpload(Connection& conn, beast::flat_buffer& buffer,
                                         http::request_parser<http::empty_body>& header,
                                         BodySink& sink, std::unique_ptr<char[]>& piece,
                                         Status* refusal);
  // False when the connection must close (write failed, or a body source ended early).
  net::awaitable<bool> WriteResponse(Connection& conn, HttpResponse& out, unsigned version,
                                     bool keep_alive, bool head);
  net::awaitable<bool> WriteContinue(Connection& conn);
  // Answers what can be answered about a request that could not be read (408 when it
  // timed out). `line_too_long`: the request line alone was over the header limit (414).
  net::awaitable<void> AnswerReadError(Connection& conn, boost::system::error_code ec,
                                       bool line_too_long = false);
  // `record`: count the answer in metrics (unless whoever made the error already did).
  net::awaitable<void> WriteErrorAndLinger(Connection& conn, unsigned version, Status error,
                                           bool record = true);
  Status UriTooLong() const {
    return Status(Code::kUriTooLong, "request target longer than " +
                                         std::to_string(settings.url_limit_bytes) + " bytes");
  }
  void CountTimeout(const Connection& conn) {
    if (conn.timed_out && metrics) metrics->timeouts++;
  }
  // At the connection cap: closes the connection that has been open longest among those
  // waiting for a next request. False when none is.
  bool ShedOldestIdle();
  void Register(Connection* c);
  void Unregister(Connection* c);
  // Cancels c's pending operation on its own executor if it is still registered and
  // `check` (run there) says so.
  void CancelOnExecutor(Connection* c, bool (*check)(Connection*));
};

struct HttpServer::TlsContext {
  ssl::context ctx{ssl::context::tls_server};
};

core::Result<std::shared_ptr<HttpServer::TlsContext>> HttpServer::Impl::NewTlsContext(
    const CenterTls* pem) const {
  auto made = std::make_shared<TlsContext>();
  ssl::context& ctx = made->ctx;
  SSL_CTX* native = ctx.native_handle();
  const TlsSettings& tls = settings.tls;
  const std::string& cert_file = pem ? pem->cert_file : tls.cert_file;
  const std::string& key_file = pem ? pem->key_file : tls.key_file;
  const std::string& ca_file = pem ? pem->ca_file : tls.ca_file;
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(native, tls.require_client_cert ? TLS1_3_VERSION : TLS1_2_VERSION);
  // An idle connection keeps no TLS read or write buffer (about 34 KiB together), so that
  // thousands of keep-alive connections cost little memory.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return Status(Code::kInternal, "TLS 1.2 cipher list refused by OpenSSL");
  }
  boost::system::error_code ec;
  if (pem) {
    ctx.use_certificate_chain(net::buffer(pem->chain_pem), ec);
  } else {
    ctx.use_certificate_chain_file(cert_file, ec);
  }
  if (ec) return TlsError("tls certificate " + cert_file, ec);
  if (pem) {
    ctx.use_private_key(net::buffer(pem->key_pem), ssl::context::pem, ec);
  } else {
    ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  }
  if (ec) return TlsError("tls key " + key_file, ec);
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status(Code::kInvalidArgument,
                  "tls key " + key_file + " does not match certificate " + cert_file);
  }
  if (tls.require_client_cert) {
    // Every certificate in the file is a trust anchor: a bundle of the old and the new
    // federation CA lets peers of either connect while the CA is rotated.
    if (pem) {
      ctx.add_certificate_authority(net::buffer(pem->ca_pem), ec);
    } else {
      ctx.load_verify_file(ca_file, ec);
    }
    if (ec) return TlsError("tls ca " + ca_file, ec);
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    // No session resumption: a resumed session would skip the chain, expiry and revocation
    // checks below, and OpenSSL (no session id context set) answered a resumption attempt
    // with an internal_error alert instead of a full handshake. Peers keep connections
    // alive, so a full handshake per connection costs little.
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(native, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(native, 0);
    if (tls.refuse_center) {
      // After OpenSSL's own chain checks, the leaf's center id against the refusals.
      ctx.set_verify_callback(
          [refuse = tls.refuse_center](bool preverified, ssl::verify_context& vc) {
            if (!preverified) return false;
            X509_STORE_CTX* store = vc.native_handle();
            if (X509_STORE_CTX_get_error_depth(store) != 0) return true;
            auto pem = CertificatePem(X509_STORE_CTX_get_current_cert(store));
            if (!pem.ok()) return false;
            auto id = CenterIdFromCertificatePem(*pem);
            return id.ok() && !refuse(*id);
          });
    }
  }
  PrimeCertificateCaches(native);
  return made;
}

bool HttpServer::Impl::ShedOldestIdle() {
  std::lock_guard lock(mu);
  // Newest first in the list: the oldest are at its end.
  for (auto it = connections.rbegin(); it != connections.rend(); ++it) {
    Connection* c = *it;
    if (!c->idle.load() || c->shed.exchange(true)) continue;
    CancelOnExecutor(c, [](Connection* conn) { return conn->idle.load(); });
    return true;
  }
  return false;
}

void HttpServer::Impl::Register(Connection* c) {
  std::lock_guard lock(mu);
  connections.push_front(c);
  c->self = connections.begin();
}

void HttpServer::Impl::Unregister(Connection* c) {
  std::function<void()> done;
  {
    std::lock_guard lock(mu);
    connections.erase(c->self);
    if (draining && connections.empty() && drain_done) done = std::move(drain_done);
  }
  if (done) done();
}

void HttpServer::Impl::CancelOnExecutor(Connection* c, bool (*check)(Connection*)) {
  // Holding mu while posting keeps c alive until the post is queued; the posted work
  // looks c up again under mu before touching it.
  net::post(c->executor, [self = shared_from_this(), c, check] {
    std::lock_guard lock(self->mu);
    for (Connection* live : self->connections) {
      if (live != c) continue;
      if (check(c)) {
        boost::system::error_code ignored;
        c->stream->lowest_layer().cancel(ignored);
      }
      return;
    }
  });
}

// Timeouts for every connection from one timer: each session only stores its deadline
// (an atomic store, no timer operation per read or write); the sweeper wakes a few times
// a second and cancels whatever has overstayed. Precision is one tick.
net::awaitable<void> HttpServer::Impl::Sweep() {
  auto self = shared_from_this();
  const auto shortest = std::min({settings.handshake_timeout, settings.read_timeout,
                                  settings.write_timeout, settings.idle_timeout});
  const auto tick =
      std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(250));
  while (!stopped.load()) {
    sweeper.expires_after(tick);
    auto [ec] = co_await sweeper.async_wait(kUseTuple);
    if (ec || stopped.load()) co_return;
    const int64_t now = Connection::NowNs();
    std::lock_guard lock(mu);
    for (Connection* c : connections) {
      if (c->deadline_ns.load(std::memory_order_relaxed) > now) continue;
      CancelOnExecutor(c, [](Connection* conn) {
        // Re-checked on the connection's executor: the session may have moved on.
        if (conn->deadline_ns.load(std::memory_order_relaxed) > Connection::NowNs()) {
          return false;
        }
        conn->timed_out = true;
        return true;
      });
    }
  }
}

net::awaitable<void> HttpServer::Impl::Accept() {
  auto self = shared_from_this();
  net::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(connection_executor(), kUseTuple);
    if (draining_flag.load()) co_return;
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors or similar: back off briefly instead of spinning.
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    if (open.load() >= settings.max_connections) {
      // Make room by closing an idle keep-alive connection (its client reconnects when it
      // has something to ask); refuse the new one only when every connection is busy.
      if (ShedOldestIdle()) {
        if (metrics) metrics->connections_shed++;
      } else {
        if (metrics) metrics->connections_rejected++;
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
    }
    open++;
    if (metrics) {
      metrics->connections_accepted++;
      metrics->connections_open++;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto ex = socket.get_executor();
    net::co_spawn(ex, Session(std::move(socket)), net::detached);
  }
}

// Answers with an error and closes without losing the answer: the client may still be
// sending the body we refused, and closing with unread data would reset the connection
// before it reads our response. So: send, stop writing, drain what arrives for a moment.
net::awaitable<void> HttpServer::Impl::WriteErrorAndLinger(Connection& conn, unsigned version,
                                                           Status error, bool record) {
  HttpResponse r = HttpResponse::Error(error);
  r.close = true;
  const std::string wire = SerializeResponse(r, version, /*keep_alive=*/false);
  conn.SetDeadline(settings.write_timeout);
  auto [ec, n] = co_await net::async_write(*conn.stream, net::buffer(wire), kUseTuple);
  if (metrics && record) metrics->RecordRequest(metrics->unmatched_route(), r.status, {});
  if (ec) co_return;
  auto& tcp = conn.stream->next_layer();
  boost::system::error_code ignored;
  tcp.shutdown(tcp::socket::shutdown_send, ignored);
  conn.SetDeadline(std::chrono::seconds(2));
  std::array<char, 16384> sink;
  size_t drained = 0;
  while (drained < (8u << 20)) {
    auto [rec, got] = co_await tcp.async_read_some(net::buffer(sink), kUseTuple);
    if (rec) break;
    drained += got;
  }
}

net::awaitable<void> HttpServer::Impl::AnswerReadError(Connection& conn,
                                                       boost::system::error_code ec,
                                                       bool line_too_long) {
  if (conn.timed_out) {
    CountTimeout(conn);
    co_await WriteErrorAndLinger(
        conn, 11,
        Status(Code::kRequestTimeout, "request not received within " +
                                          std::to_string(settings.read_timeout.count()) + " ms"));
  } else if (ec == http::error::header_limit && line_too_long) {
    co_await WriteErrorAndLinger(conn, 11, UriTooLong());
  } else if (ec == http::error::header_limit) {
    co_await WriteErrorAndLinger(
        conn, 11,
        Status(Code::kHeadersTooLarge, "request header larger than " +
                                           std::to_string(settings.header_limit_bytes) + " bytes"));
  } else if (ec == http::error::body_limit) {
    co_await WriteErrorAndLinger(
        conn, 11,
        Status(Code::kPayloadTooLarge,
               "request body larger than " + std::to_string(settings.body_limit_bytes) + " bytes"));
  } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
             ec != http::error::end_of_stream && ec != http::error::partial_message &&
             ec != http::error::short_read) {
    co_await WriteErrorAndLinger(conn, 11,
                                 core::InvalidArgument("malformed HTTP request: " + ec.message()));
  }
  // End of stream, reset, truncation: nothing to answer.
}

net::awaitable<bool> HttpServer::Impl::WriteContinue(Connection& conn) {
  static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  conn.SetDeadline(settings.write_timeout);
  auto [ec, n] = co_await net::async_write(*conn.stream, net::buffer(kContinue), kUseTuple);
  if (ec) CountTimeout(conn);
  co_return !ec;
}

net::awaitable<bool> HttpServer::Impl::ReadBody(Connection& conn, beast::flat_buffer& buffer,
                                                http::request_parser<http::empty_body>& header,
                                                HttpRequest& request) {
  // The header parser has no body limit (an upload handler may have taken the body), so
  // the announced length is checked here, before anything of the body is read.
  if (header.content_length().value_or(0) > settings.body_limit_bytes) {
    co_await AnswerReadError(conn, http::error::body_limit);
    co_return false;
  }
  if (ExpectsContinue(header.get()) && buffer.size() == 0 && !co_await WriteContinue(conn)) {
    co_return false;
  }
  conn.SetDeadline(settings.read_timeout);
  http::request_parser<http::string_body> parser(std::move(header));
  parser.body_limit(settings.body_limit_bytes);
  parser.eager(true);
  boost::system::error_code ec = ParseBuffered(parser, buffer, /*header_only=*/false);
  if (!ec && !parser.is_done()) {
    auto [rec, nread] = co_await http::async_read(*conn.stream, buffer, parser, kUseTuple);
    ec = rec;
  }
  if (ec) {
    co_await AnswerReadError(conn, ec);
    co_return false;
  }
  request.body = std::move(parser.get().body());
  co_return true;
}

net::awaitable<HttpServer::Impl::UploadEnd> HttpServer::Impl::StreamUpload(
    Connection& conn, beast::flat_buffer& buffer, http::request_parser<http::empty_body>& header,
    BodySink& sink, std::unique_ptr<char[]>& piece, Status* refusal) {
  if (header.is_done()) co_return UploadEnd::kComplete;  // nothing announced
  if (ExpectsContinue(header.get()) && buffer.size() == 0 && !co_await WriteContinue(conn)) {
    sink.Abort(Status(Code::kUnavailable, "connection lost before the upload began"));
    co_return UploadEnd::kBroken;
  }
  if (!piece) piece = std::make_unique<char[]>(kPieceBytes);
  http::request_parser<http::buffer_body> parser(std::move(header));
  parser.body_limit(boost::none);  // the sink decides how much it takes
  parser.eager(true);
  while (!parser.is_done()) {
    auto& body = parser.get().body();
    body.data = piece.get();
    body.size = kPieceBytes;
    body.more = true;
    // The read timeout applies to each piece, not to the whole upload.
    conn.SetDeadline(settings.read_timeout);
    auto [ec, nread] = co_await http::async_read(*conn.stream, buffer, parser, kUseTuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      CountTimeout(conn);
      sink.Abort(conn.timed_out ? Status(Code::kUnavailable, "upload timed out")
                                : Status(Code::kUnavailable, "upload broken: " + ec.message()));
      co_return UploadEnd::kBroken;
    }
    const size_t got = kPieceBytes - body.size;
    if (got == 0) continue;
    // No deadline while the sink works (it may wait on a disk).
    conn.deadline_ns.store(std::numeric_limits<int64_t>::max(), std::memory_order_relaxed);
    auto slot = std::make_shared<Slot<Status>>(conn.executor);
    sink.Write(std::string_view(piece.get(), got), [slot](Status s) { slot->Set(std::move(s)); });
    Status written = co_await slot->Take();
    if (!written.ok()) {
      *refusal = std::move(written);
      co_return UploadEnd::kRefused;
    }
  }
  co_return UploadEnd::kComplete;
}

net::awaitable<bool> HttpServer::Impl::WriteResponse(Connection& conn, HttpResponse& out,
                                                     unsigned version, bool keep_alive, bool head) {
  auto& stream = *conn.stream;
  if (!out.source) {
    // Head and body as one gather write: no copy of the body, and Asio's TLS stream still
    // packs a small response into one record.
    const std::string& body = BodyOf(out);
    const std::string wire = SerializeHead(out, version, keep_alive, body.size());
    const std::array<net::const_buffer, 2> buffers{net::buffer(wire),
                                                   head ? net::const_buffer() : net::buffer(body)};
    conn.SetDeadline(settings.write_timeout);
    auto [ec, n] = co_await net::async_write(stream, buffers, kUseTuple);
    if (ec) CountTimeout(conn);
    co_return !ec;
  }
  const uint64_t length = static_cast<uint64_t>(std::max<int64_t>(out.source_length, 0));
  const std::string wire = SerializeHead(out, version, keep_alive, length);
  conn.SetDeadline(settings.write_timeout);
  auto [hec, hn] = co_await net::async_write(stream, net::buffer(wire), kUseTuple);
  if (hec) {
    CountTimeout(conn);
    co_return false;
  }
  if (head) co_return true;
  uint64_t remaining = length;
  while (remaining > 0) {
    conn.deadline_ns.store(std::numeric_limits<int64_t>::max(), std::memory_order_relaxed);
    auto slot = std::make_shared<PieceSlot>(conn.executor);
    out.source->Read(static_cast<size_t>(std::min<uint64_t>(remaining, kPieceBytes)),
                     [slot](Status st, std::string piece) {
                       slot->Set({std::move(st), std::move(piece)});
                     });
    auto [st, piece] = co_await slot->Take();
    // The status line is gone: a failed or short source can only cut the connection, so
    // that the client sees fewer bytes than announced.
    if (!st.ok() || piece.empty() || piece.size() > remaining) co_return false;
    conn.SetDeadline(settings.write_timeout);
    auto [ec, n] = co_await net::async_write(stream, net::buffer(piece), kUseTuple);
    if (ec) {
      CountTimeout(conn);
      co_return false;
    }
    remaining -= piece.size();
  }
  co_return true;
}

net::awaitable<void> HttpServer::Impl::Session(tcp::socket socket) {
  auto self = shared_from_this();
  const std::shared_ptr<TlsContext> tls_context = CurrentTls();
  Connection::Stream stream(std::move(socket), tls_context->ctx);
  Connection conn;
  conn.stream = &stream;
  conn.executor = stream.get_executor();
  conn.SetDeadline(settings.handshake_timeout);
  Register(&conn);
  struct Closer {
    Impl* impl;
    Connection* c;
    ~Closer() {
      impl->open--;
      if (impl->metrics) impl->metrics->connections_open--;
      impl->Unregister(c);
    }
  } closer{this, &conn};

  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
  if (hec) {
    if (metrics) metrics->handshake_failures++;
    CountTimeout(conn);
    co_return;
  }
  std::string peer_center;
  if (settings.tls.require_client_cert) peer_center = PeerCenterId(stream.native_handle());

  beast::flat_buffer buffer;
  std::unique_ptr<char[]> piece;  // upload buffer, allocated by the first upload
  bool server_closes = false;
  for (;;) {
    if (buffer.size() == 0) {
      // Waiting for the next request: the idle timeout applies, and a drain may close us.
      if (draining_flag.load()) {
        server_closes = true;
        break;
      }
      conn.shed = false;
      conn.idle = true;
      conn.SetDeadline(settings.idle_timeout);
      auto [iec, n] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
      conn.idle = false;
      if (iec) {
        CountTimeout(conn);
        break;
      }
      buffer.commit(n);
    }
    conn.SetDeadline(settings.read_timeout);
    // The header first, so that an upload handler can take the body before any of it is
    // read. Fast path: the request usually arrived whole with the bytes just read; parse
    // it in place and skip an asynchronous read operation altogether.
    http::request_parser<http::empty_body> header;
    header.header_limit(settings.header_limit_bytes);
    header.body_limit(boost::none);  // checked by ReadBody; uploads have none
    boost::system::error_code rec = ParseBuffered(header, buffer, /*header_only=*/true);
    if (!rec && !header.is_header_done()) {
      auto [ec, nread] = co_await http::async_read_header(stream, buffer, header, kUseTuple);
      rec = ec;
    }
    if (rec) {
      // The parser takes the request line as soon as it is whole: none over the header
      // limit means the line itself, so its target, is what is too long.
      co_await AnswerReadError(conn, rec, header.get().target().empty());
      break;
    }
    if (header.get().target().size() > settings.url_limit_bytes) {
      co_await WriteErrorAndLinger(conn, header.get().version(), UriTooLong());
      break;
    }
    const bool client_keep_alive = header.get().keep_alive();
    const unsigned version = header.get().version();
    const bool body_announced = !header.is_done();
    HttpRequest request = ToHttpRequest(header.get());
    request.peer_center = peer_center;
    // HEAD is GET without the body (RFC 9110 9.3.2): routed as GET, answered bodiless.
    const bool head = request.method == "HEAD";
    if (head) request.method = "GET";

    std::shared_ptr<BodySink> sink;
    if (upload) {
      auto taken = upload(request);
      if (!taken.ok()) {
        // The upload handler has counted its answer. Unread body bytes would be taken
        // for the next request: close after answering.
        if (body_announced) {
          co_await WriteErrorAndLinger(conn, version, taken.status(), /*record=*/false);
          break;
        }
        HttpResponse refused = HttpResponse::Error(taken.status());
        const bool keep = client_keep_alive && !draining_flag.load();
        if (!co_await WriteResponse(conn, refused, version, keep, head)) break;
        if (!keep) {
          server_closes = true;
          break;
        }
        continue;
      }
      sink = std::move(*taken);
    }

    HttpResponse out;
    if (sink) {
      Status refusal;
      const UploadEnd end = co_await StreamUpload(conn, buffer, header, *sink, piece, &refusal);
      if (end == UploadEnd::kBroken) break;
      if (end == UploadEnd::kRefused) {
        co_await WriteErrorAndLinger(conn, version, refusal, /*record=*/false);
        break;
      }
      conn.deadline_ns.store(std::numeric_limits<int64_t>::max(), std::memory_order_relaxed);
      auto slot = std::make_shared<ResponseSlot>(conn.executor);
      sink->Finish([slot](HttpResponse r) { slot->Set(std::move(r)); });
      sink.reset();
      out = co_await slot->Take();
    } else {
      if (body_announced && !co_await ReadBody(conn, buffer, header, request)) break;
      // No deadline while the handler works (it may wait on a durable write); the
      // response's write has its own.
      conn.deadline_ns.store(std::numeric_limits<int64_t>::max(), std::memory_order_relaxed);
      auto slot = std::make_shared<ResponseSlot>(conn.executor);
      handler(request, [slot](HttpResponse r) { slot->Set(std::move(r)); });
      out = co_await slot->Take();
    }

    const bool keep = client_keep_alive && !out.close && !draining_flag.load();
    if (!co_await WriteResponse(conn, out, version, keep, head)) break;
    if (!keep) {
      server_closes = true;
      break;
    }
  }
  if (server_closes) {
    // Say goodbye properly (close_notify), but never wait long for the client's.
    conn.SetDeadline(std::chrono::seconds(1));
    co_await stream.async_shutdown(kUseTuple);
  }
}

HttpServer::HttpServer(IoRuntime& runtime, ServerSettings settings, Handler handler,
                       Metrics* metrics, UploadHandler upload)
    : impl_(std::make_shared<Impl>(runtime, std::move(settings), std::move(handler), metrics,
                                   std::move(upload))) {}

HttpServer::~HttpServer() {
  impl_->stopped = true;
  net::post(impl_->sweeper.get_executor(), [impl = impl_] {
    impl->sweeper.cancel();
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

core::Result<uint16_t> HttpServer::Listen() {
  {
    EDWC_ASSIGN_OR_RETURN(auto context, impl_->NewTlsContext(nullptr));
    std::lock_guard lock(impl_->tls_mu);
    impl_->current_tls = std::move(context);
  }
  boost::system::error_code ec;
  auto address = net::ip::make_address(impl_->settings.address, ec);
  if (ec) {
    return Status(Code::kInvalidArgument,
                  "listen address '" + impl_->settings.address + "': " + ec.message());
  }
  tcp::endpoint endpoint(address, impl_->settings.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Code::kUnavailable, "cannot listen on " + impl_->settings.address + ":" +
                                          std::to_string(impl_->settings.port) + ": " +
                                          ec.message());
  }
  const uint16_t port = acceptor.local_endpoint().port();
  net::co_spawn(acceptor.get_executor(), impl_->Accept(), net::detached);
  net::co_spawn(impl_->sweeper.get_executor(), impl_->Sweep(), net::detached);
  return port;
}

void HttpServer::Drain(std::function<void()> done) {
  auto impl = impl_;
  bool finished;
  {
    std::lock_guard lock(impl->mu);
    impl->draining = true;
    impl->draining_flag = true;
    finished = impl->connections.empty();
    if (!finished) impl->drain_done = std::move(done);
    // Idle connections close now; busy ones close after their response.
    for (Connection* c : impl->connections) {
      impl->CancelOnExecutor(c, [](Connection* conn) { return conn->idle.load(); });
    }
  }
  net::post(impl->acceptor.get_executor(), [impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  if (finished && done) done();
}

int HttpServer::open_connections() const { return impl_->open.load(); }

core::Result<std::shared_ptr<HttpServer::TlsContext>> HttpServer::MakeTlsContext(
    const CenterTls& tls) const {
  return impl_->NewTlsContext(&tls);
}

void HttpServer::UseTlsContext(std::shared_ptr<TlsContext> context) {
  std::lock_guard lock(impl_->tls_mu);
  impl_->current_tls = std::move(context);
}

}  // namespace edwc::gateway
