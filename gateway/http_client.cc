#include "gateway/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

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

Status Unavailable(std::string what, const boost::system::error_code& ec) {
  return Status(Code::kUnavailable, what + ": " + ec.message());
}

}  // namespace

struct HttpsClient::Impl {
  Impl() : ctx(ssl::context::tls_client) {}
  std::string host;
  std::string port;
  ClientTls tls;
  std::chrono::milliseconds timeout{};
  net::io_context ioc{1};
  ssl::context ctx;
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  int opened = 0;

  // Runs one coroutine to completion on the private io_context.
  template <typename T>
  T Run(net::awaitable<T> op) {
    std::optional<T> out;
    std::exception_ptr error;
    ioc.restart();
    // The wrapper keeps T free of co_spawn's default-constructible requirement.
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { out.emplace(co_await std::move(op)); },
        [&](std::exception_ptr e) { error = e; });
    ioc.run();
    if (error) std::rethrow_exception(error);
    return std::move(*out);
  }

  net::awaitable<Status> DoConnect() {
    stream.reset();
    buffer.clear();
    stream.emplace(ioc, ctx);
    auto& lowest = beast::get_lowest_layer(*stream);
    tcp::resolver resolver(ioc);
    auto [rec, results] = co_await resolver.async_resolve(host, port, kUseTuple);
    if (rec) co_return Unavailable("resolve " + host, rec);
    lowest.expires_after(timeout);
    auto [cec, ep] = co_await lowest.async_connect(results, kUseTuple);
    if (cec) co_return Unavailable("connect " + host + ":" + port, cec);
    lowest.socket().set_option(tcp::no_delay(true));
    boost::system::error_code ignored;
    const bool is_ip = !net::ip::make_address(host, ignored).is_unspecified() && !ignored;
    if (!is_ip) SSL_set_tlsext_host_name(stream->native_handle(), host.c_str());
    stream->set_verify_callback(ssl::host_name_verification(host));
    lowest.expires_after(timeout);
    auto [hec] = co_await stream->async_handshake(ssl::stream_base::client, kUseTuple);
    if (hec) co_return Unavailable("TLS handshake with " + host + ":" + port, hec);
    ++opened;
    co_return Status::Ok();
  }

  net::awaitable<Status> DoWrite(std::string bytes) {
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(timeout);
    auto [ec, n] = co_await net::async_write(*stream, net::buffer(bytes), kUseTuple);
    if (ec) co_return Unavailable("write", ec);
    co_return Status::Ok();
  }

  net::awaitable<core::Result<HttpResponse>> DoRead(bool head_request = false) {
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(timeout);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 32);
    parser.skip(head_request);  // a HEAD response has a Content-Length but no body
    auto [ec, n] = co_await http::async_read(*stream, buffer, parser, kUseTuple);
    if (ec) co_return core::Result<HttpResponse>(Unavailable("read response", ec));
    auto& res = parser.get();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    for (const auto& f : res) {
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    out.close = !res.keep_alive();
    out.body = std::move(res.body());
    co_return core::Result<HttpResponse>(std::move(out));
  }

  net::awaitable<Status> DoWaitClose(std::chrono::milliseconds within) {
    auto& lowest = beast::get_lowest_layer(*stream);
    lowest.expires_after(within);
    std::array<char, 4096> sink;
    for (;;) {
      auto [ec, n] = co_await stream->async_read_some(net::buffer(sink), kUseTuple);
      if (!ec) continue;
      if (ec == beast::error::timeout) {
        co_return Status(Code::kUnavailable,
                         "connection still open after " + std::to_string(within.count()) + " ms");
      }
      co_return Status::Ok();  // EOF, reset, truncation: closed by the server
    }
  }
};

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsClient::~HttpsClient() = default;

core::Result<std::unique_ptr<HttpsClient>> HttpsClient::Create(std::string_view base_url,
                                                               ClientTls tls,
                                                               std::chrono::milliseconds timeout) {
  constexpr std::string_view kScheme = "https://";
  if (base_url.substr(0, kScheme.size()) != kScheme) {
    return core::InvalidArgument("URL must start with https://: " + std::string(base_url), "url");
  }
  std::string_view rest = base_url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  auto impl = std::make_unique<Impl>();
  if (!rest.empty() && rest.front() == '[') {  // [::1]:7400
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return core::InvalidArgument("bad IPv6 URL", "url");
    impl->host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    impl->port = rest.size() > 1 && rest[0] == ':' ? std::string(rest.substr(1)) : "443";
  } else {
    const size_t colon = rest.rfind(':');
    impl->host = std::string(rest.substr(0, colon));
    impl->port = colon == std::string_view::npos ? "443" : std::string(rest.substr(colon + 1));
  }
  if (impl->host.empty()) return core::InvalidArgument("URL has no host", "url");
  impl->tls = std::move(tls);
  impl->timeout = timeout;
  SSL_CTX* native = impl->ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, impl->tls.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  boost::system::error_code ec;
  impl->ctx.load_verify_file(impl->tls.ca_file, ec);
  if (ec) {
    return core::InvalidArgument("CA file " + impl->tls.ca_file + ": " + ec.message(), "ca");
  }
  impl->ctx.set_verify_mode(ssl::verify_peer);
  if (!impl->tls.cert_file.empty()) {
    impl->ctx.use_certificate_chain_file(impl->tls.cert_file, ec);
    if (!ec) impl->ctx.use_private_key_file(impl->tls.key_file, ssl::context::pem, ec);
    if (ec) return core::InvalidArgument("client certificate: " + ec.message(), "cert");
  }
  return std::unique_ptr<HttpsClient>(new HttpsClient(std::move(impl)));
}

Status HttpsClient::Connect() { return impl_->Run(impl_->DoConnect()); }

Status HttpsClient::WriteRaw(std::string_view bytes) {
  if (!impl_->stream) EDWC_RETURN_IF_ERROR(Connect());
  return impl_->Run(impl_->DoWrite(std::string(bytes)));
}

core::Result<HttpResponse> HttpsClient::ReadResponse() {
  if (!impl_->stream) return Status(Code::kFailedPrecondition, "not connected");
  return impl_->Run(impl_->DoRead());
}

Status HttpsClient::WaitForClose(std::chrono::milliseconds within) {
  if (!impl_->stream) return Status::Ok();
  return impl_->Run(impl_->DoWaitClose(within));
}

void HttpsClient::Disconnect() {
  impl_->stream.reset();
  impl_->buffer.clear();
}

int HttpsClient::connections_opened() const { return impl_->opened; }

core::Result<HttpResponse> HttpsClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string wire;
  wire.reserve(256 + body.size());
  wire.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  wire.append(impl_->host).append(":").append(impl_->port).append("\r\n");
  for (const auto& [k, v] : headers) wire.append(k).append(": ").append(v).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    wire.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  wire.append("\r\n").append(body);
  // A kept-alive connection may have been closed by the server meanwhile: retry once on
  // a fresh connection, but only if nothing of the response was read.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->stream.has_value();
    if (!reused) EDWC_RETURN_IF_ERROR(Connect());
    Status st = impl_->Run(impl_->DoWrite(wire));
    const bool wrote = st.ok();
    if (wrote) {
      auto res = impl_->Run(impl_->DoRead(method == "HEAD"));
      if (res.ok()) {
        if (res->close) Disconnect();
        return res;
      }
      st = res.status();
    }
    Disconnect();
    // A POST the server may have received is not sent twice by this client.
    if (!reused || (wrote && method == "POST")) return st;
  }
  return Status(Code::kUnavailable, "request failed after reconnecting");
}

}  // namespace edwc::gateway
