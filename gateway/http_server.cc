#include "gateway/http_server.h"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

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
#include <boost/beast/ssl.hpp>
#include <list>
#include <mutex>

#include "core/json.h"
#include "gateway/certs.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"

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
  BIO* bio = BIO_new(BIO_s_mem());
  std::string pem;
  if (PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  auto id = CenterIdFromCertificatePem(pem);
  return id.ok() ? *id : std::string();
}

// Waits for a handler's answer, which may come at once or later from any thread.
class ResponseSlot : public std::enable_shared_from_this<ResponseSlot> {
 public:
  explicit ResponseSlot(net::any_io_executor ex) : executor_(std::move(ex)) {}

  void Set(HttpResponse response) {
    bool wake;
    {
      std::lock_guard lock(mu_);
      if (ready_) return;  // answered twice: the first answer stands
      response_ = std::move(response);
      ready_ = true;
      wake = waiting_;
    }
    if (wake) net::post(executor_, [self = shared_from_this()] { self->timer_->cancel(); });
  }

  // Most handlers answer before returning; only a later answer pays for a timer.
  net::awaitable<HttpResponse> Take() {
    {
      std::lock_guard lock(mu_);
      if (!ready_) {
        timer_.emplace(executor_, net::steady_timer::time_point::max());
        waiting_ = true;
      }
    }
    if (timer_) co_await timer_->async_wait(kUseTuple);  // cancelled by Set
    std::lock_guard lock(mu_);
    co_return std::move(response_);
  }

 private:
  net::any_io_executor executor_;
  std::mutex mu_;
  bool ready_ = false;    // GUARDED_BY(mu_)
  bool waiting_ = false;  // GUARDED_BY(mu_)
  HttpResponse response_;  // GUARDED_BY(mu_)
  std::optional<net::steady_timer> timer_;  // created and awaited on the connection's executor
};

// The whole response in one buffer, so that it leaves in one TLS record and one write.
std::string SerializeResponse(HttpResponse& out, unsigned version, bool keep_alive) {
  const auto status = static_cast<http::status>(out.status);
  const std::string_view reason = http::obsolete_reason(status);
  std::string wire;
  wire.reserve(160 + out.body.size());
  wire.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  wire.append(std::to_string(out.status)).append(" ").append(reason).append("\r\n");
  wire.append("Server: edwc\r\n");
  if (!out.content_type.empty()) wire.append("Content-Type: ").append(out.content_type).append("\r\n");
  for (const auto& [name, value] : out.headers) {
    wire.append(name).append(": ").append(value).append("\r\n");
  }
  wire.append("Content-Length: ").append(std::to_string(out.body.size())).append("\r\n");
  if (!keep_alive) {
    wire.append("Connection: close\r\n");
  } else if (version == 10) {
    wire.append("Connection: keep-alive\r\n");
  }
  wire.append("\r\n").append(out.body);
  return wire;
}

HttpRequest ToHttpRequest(http::request<http::string_body>&& r) {
  HttpRequest req;
  req.method = std::string(r.method_string());
  req.target = std::string(r.target());
  for (const auto& field : r) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  req.body = std::move(r.body());
  return req;
}

}  // namespace

struct Connection {
  beast::tcp_stream* tcp = nullptr;
  net::any_io_executor executor;
  bool idle = false;  // touched on the connection's strand only
};

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(IoRuntime& rt, ServerSettings s, Handler h, Metrics* m)
      : runtime(rt),
        settings(std::move(s)),
        handler(std::move(h)),
        metrics(m),
        ctx(ssl::context::tls_server),
        acceptor(rt.context()) {}

  IoRuntime& runtime;
  ServerSettings settings;
  Handler handler;
  Metrics* metrics;
  ssl::context ctx;
  tcp::acceptor acceptor;
  std::atomic<int> open{0};

  std::mutex mu;
  std::list<Connection*> connections;  // GUARDED_BY(mu)
  bool draining = false;               // GUARDED_BY(mu)
  std::atomic<bool> draining_flag{false};
  std::function<void()> drain_done;  // GUARDED_BY(mu)

  net::any_io_executor connection_executor() {
    if (runtime.threads() > 1) return net::make_strand(runtime.context());
    return runtime.context().get_executor();
  }

  Status ConfigureTls();
  net::awaitable<void> Accept();
  net::awaitable<void> Session(tcp::socket socket);
  net::awaitable<void> WriteErrorAndLinger(beast::ssl_stream<beast::tcp_stream>& stream,
                                           unsigned version, Status error);
  void Register(Connection* c);
  void Unregister(Connection* c);
};

Status HttpServer::Impl::ConfigureTls() {
  SSL_CTX* native = ctx.native_handle();
  const TlsSettings& tls = settings.tls;
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_min_proto_version(native,
                                tls.require_client_cert ? TLS1_3_VERSION : TLS1_2_VERSION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return Status(Code::kInternal, "TLS 1.2 cipher list refused by OpenSSL");
  }
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(tls.cert_file, ec);
  if (ec) return TlsError("tls certificate " + tls.cert_file, ec);
  ctx.use_private_key_file(tls.key_file, ssl::context::pem, ec);
  if (ec) return TlsError("tls key " + tls.key_file, ec);
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status(Code::kInvalidArgument,
                  "tls key " + tls.key_file + " does not match certificate " + tls.cert_file);
  }
  if (tls.require_client_cert) {
    ctx.load_verify_file(tls.ca_file, ec);
    if (ec) return TlsError("tls ca " + tls.ca_file, ec);
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return Status::Ok();
}

void HttpServer::Impl::Register(Connection* c) {
  std::lock_guard lock(mu);
  connections.push_back(c);
}

void HttpServer::Impl::Unregister(Connection* c) {
  std::function<void()> done;
  {
    std::lock_guard lock(mu);
    connections.remove(c);
    if (draining && connections.empty() && drain_done) done = std::move(drain_done);
  }
  if (done) done();
}

net::awaitable<void> HttpServer::Impl::Accept() {
  auto self = shared_from_this();
  net::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    // A strand per connection only when several threads run the context: with one
    // thread every handler is already serialised, and a strand would only add locking.
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
      if (metrics) metrics->connections_rejected++;
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
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
net::awaitable<void> HttpServer::Impl::WriteErrorAndLinger(
    beast::ssl_stream<beast::tcp_stream>& stream, unsigned version, Status error) {
  HttpResponse r = HttpResponse::Error(error);
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::content_type, r.content_type);
  res.keep_alive(false);
  res.body() = std::move(r.body);
  res.prepare_payload();
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(settings.write_timeout);
  auto [ec, n] = co_await http::async_write(stream, res, kUseTuple);
  if (metrics) metrics->RecordRequest(metrics->unmatched_route(), r.status, {});
  if (ec) co_return;
  boost::system::error_code ignored;
  tcp.socket().shutdown(tcp::socket::shutdown_send, ignored);
  tcp.expires_after(std::chrono::seconds(2));
  std::array<char, 16384> sink;
  size_t drained = 0;
  while (drained < (8u << 20)) {
    auto [rec, got] = co_await tcp.async_read_some(net::buffer(sink), kUseTuple);
    if (rec) break;
    drained += got;
  }
}

net::awaitable<void> HttpServer::Impl::Session(tcp::socket socket) {
  auto self = shared_from_this();
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), ctx);
  auto& tcp = beast::get_lowest_layer(stream);
  Connection conn;
  conn.tcp = &tcp;
  conn.executor = tcp.get_executor();
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

  tcp.expires_after(settings.handshake_timeout);
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
  if (hec) {
    if (metrics) {
      metrics->handshake_failures++;
      if (hec == beast::error::timeout) metrics->timeouts++;
    }
    co_return;
  }
  std::string peer_center;
  if (settings.tls.require_client_cert) peer_center = PeerCenterId(stream.native_handle());

  beast::flat_buffer buffer;
  bool server_closes = false;
  for (;;) {
    if (buffer.size() == 0) {
      // Waiting for the next request: the idle timeout applies, and a drain may close us.
      if (draining_flag.load()) {
        server_closes = true;
        break;
      }
      conn.idle = true;
      tcp.expires_after(settings.idle_timeout);
      auto [iec, n] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
      conn.idle = false;
      if (iec) {
        if (iec == beast::error::timeout && metrics) metrics->timeouts++;
        break;
      }
      buffer.commit(n);
    }
    http::request_parser<http::string_body> parser;
    parser.header_limit(settings.header_limit_bytes);
    parser.body_limit(settings.body_limit_bytes);
    parser.eager(true);
    // Fast path: the request usually arrived whole with the bytes just read; parse it
    // in place and skip an asynchronous read operation altogether.
    boost::system::error_code rec;
    while (!parser.is_done() && buffer.size() > 0) {
      const size_t used = parser.put(buffer.data(), rec);
      buffer.consume(used);
      if (rec == http::error::need_more) {
        rec = {};
        break;
      }
      if (rec || used == 0) break;
    }
    if (!rec && !parser.is_done()) {
      tcp.expires_after(settings.read_timeout);
      auto [ec, nread] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      rec = ec;
    }
    if (rec) {
      if (rec == beast::error::timeout) {
        if (metrics) metrics->timeouts++;
      } else if (rec == http::error::header_limit) {
        co_await WriteErrorAndLinger(
            stream, 11,
            Status(Code::kHeadersTooLarge, "request header larger than " +
                                               std::to_string(settings.header_limit_bytes) +
                                               " bytes"));
      } else if (rec == http::error::body_limit) {
        co_await WriteErrorAndLinger(
            stream, 11,
            Status(Code::kPayloadTooLarge,
                   "request body larger than " + std::to_string(settings.body_limit_bytes) +
                       " bytes"));
      } else if (rec.category() == http::make_error_code(http::error::bad_target).category() &&
                 rec != http::error::end_of_stream && rec != http::error::partial_message &&
                 rec != http::error::short_read) {
        co_await WriteErrorAndLinger(stream, 11,
                                     core::InvalidArgument("malformed HTTP request: " +
                                                           rec.message()));
      }
      break;  // end of stream, reset, truncation: nothing to answer
    }
    const bool client_keep_alive = parser.get().keep_alive();
    const unsigned version = parser.get().version();
    HttpRequest request = ToHttpRequest(parser.release());
    request.peer_center = peer_center;

    auto slot = std::make_shared<ResponseSlot>(tcp.get_executor());
    handler(request, [slot](HttpResponse r) { slot->Set(std::move(r)); });
    HttpResponse out = co_await slot->Take();

    const bool keep = client_keep_alive && !out.close && !draining_flag.load();
    const std::string wire = SerializeResponse(out, version, keep);
    tcp.expires_after(settings.write_timeout);
    auto [wec, nw] = co_await net::async_write(stream, net::buffer(wire), kUseTuple);
    if (wec) {
      if (wec == beast::error::timeout && metrics) metrics->timeouts++;
      break;
    }
    if (!keep) {
      server_closes = true;
      break;
    }
  }
  if (server_closes) {
    // Say goodbye properly (close_notify), but never wait long for the client's.
    tcp.expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(kUseTuple);
  }
}

HttpServer::HttpServer(IoRuntime& runtime, ServerSettings settings, Handler handler,
                       Metrics* metrics)
    : impl_(std::make_shared<Impl>(runtime, std::move(settings), std::move(handler), metrics)) {}

HttpServer::~HttpServer() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

core::Result<uint16_t> HttpServer::Listen() {
  EDWC_RETURN_IF_ERROR(impl_->ConfigureTls());
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
  }
  net::post(impl->acceptor.get_executor(), [impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  // Close idle connections on their own strands; busy ones close after their response.
  // The mutex is held while posting so that no connection object dies meanwhile.
  {
    std::lock_guard lock(impl->mu);
    for (Connection* c : impl->connections) {
      net::post(c->executor, [impl, c] {
        std::lock_guard inner(impl->mu);
        for (Connection* live : impl->connections) {
          if (live == c && c->idle) c->tcp->socket().cancel();
        }
      });
    }
  }
  if (finished && done) done();
}

int HttpServer::open_connections() const { return impl_->open.load(); }

}  // namespace edwc::gateway
