#include "gateway/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
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

// Streamed bodies move in pieces of this size (Upload, Download).
constexpr size_t kPieceBytes = 1 << 20;
// The most of a non-2xx answer Download reads.
constexpr uint64_t kErrorBodyLimit = 1 << 20;

template <bool isRequest, typename Fields>
void CopyHeaders(const http::header<isRequest, Fields>& h, HttpResponse* out) {
  out->content_type = std::string(h[http::field::content_type]);
  for (const auto& f : h) {
    out->headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
}

std::string RequestHead(std::string_view method, std::string_view target, const std::string& host,
                        const std::string& port,
                        const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string wire;
  wire.reserve(256);
  wire.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  wire.append(host).append(":").append(port).append("\r\n");
  for (const auto& [k, v] : headers) wire.append(k).append(": ").append(v).append("\r\n");
  return wire;
}

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
    CopyHeaders(res.base(), &out);
    out.close = !res.keep_alive();
    out.body = std::move(res.body());
    co_return core::Result<HttpResponse>(std::move(out));
  }

  // Writes `length` bytes pulled from `read`, a piece at a time, each with its own
  // deadline. *wire_failed tells a connection failure from `read`'s own error.
  net::awaitable<Status> DoWriteBody(int64_t length,
                                     const std::function<core::Result<size_t>(char*, size_t)>& read,
                                     const std::function<void(int64_t)>& progress,
                                     bool* wire_failed) {
    auto& lowest = beast::get_lowest_layer(*stream);
    auto piece = std::make_unique<char[]>(kPieceBytes);
    int64_t sent = 0;
    while (sent < length) {
      const size_t max = static_cast<size_t>(std::min<int64_t>(length - sent, kPieceBytes));
      core::Result<size_t> got = read(piece.get(), max);
      if (!got.ok()) co_return got.status();
      if (*got == 0 || *got > max) {
        co_return Status(Code::kInvalidArgument, "upload source gave " + std::to_string(*got) +
                                                     " bytes after " + std::to_string(sent) +
                                                     " of " + std::to_string(length));
      }
      lowest.expires_after(timeout);
      auto [ec, n] = co_await net::async_write(*stream, net::buffer(piece.get(), *got), kUseTuple);
      if (ec) {
        *wire_failed = true;
        co_return Unavailable("upload write after " + std::to_string(sent) + " bytes", ec);
      }
      sent += static_cast<int64_t>(*got);
      if (progress) progress(sent);
    }
    co_return Status::Ok();
  }

  // Reads an answer's header, then streams a 2xx body to `write` (or reads another
  // body whole). *got_header tells whether anything of the answer arrived.
  net::awaitable<core::Result<HttpResponse>> DoReadStreamed(
      bool head_request, const std::function<Status(std::string_view)>& write,
      const std::function<void(int64_t, int64_t)>& progress, bool* got_header) {
    using R = core::Result<HttpResponse>;
    auto& lowest = beast::get_lowest_layer(*stream);
    http::response_parser<http::empty_body> header;
    header.body_limit(boost::none);  // checked below, by kind of answer
    header.skip(head_request);
    lowest.expires_after(timeout);
    auto [hec, hn] = co_await http::async_read_header(*stream, buffer, header, kUseTuple);
    if (hec) co_return R(Unavailable("read response header", hec));
    *got_header = true;
    HttpResponse out;
    out.status = static_cast<int>(header.get().result_int());
    CopyHeaders(header.get().base(), &out);
    out.close = !header.get().keep_alive();
    if (header.is_done()) co_return R(std::move(out));
    if (out.status / 100 != 2) {
      if (header.content_length().value_or(0) > kErrorBodyLimit) {
        co_return R(Status(Code::kUnavailable, "answer " + std::to_string(out.status) +
                                                   " has a body larger than 1 MiB"));
      }
      http::response_parser<http::string_body> parser(std::move(header));
      parser.body_limit(kErrorBodyLimit);
      lowest.expires_after(timeout);
      auto [ec, n] = co_await http::async_read(*stream, buffer, parser, kUseTuple);
      if (ec) co_return R(Unavailable("read response", ec));
      out.body = std::move(parser.get().body());
      co_return R(std::move(out));
    }
    const int64_t total =
        header.content_length() ? static_cast<int64_t>(*header.content_length()) : -1;
    http::response_parser<http::buffer_body> parser(std::move(header));
    auto piece = std::make_unique<char[]>(kPieceBytes);
    int64_t received = 0;
    while (!parser.is_done()) {
      auto& body = parser.get().body();
      body.data = piece.get();
      body.size = kPieceBytes;
      body.more = true;
      lowest.expires_after(timeout);
      auto [ec, n] = co_await http::async_read(*stream, buffer, parser, kUseTuple);
      if (ec == http::error::need_buffer) ec = {};
      // What arrived before a cut is still passed on, so that a caller can resume after it.
      const size_t got = kPieceBytes - body.size;
      if (got > 0) {
        Status st = write(std::string_view(piece.get(), got));
        if (!st.ok()) co_return R(std::move(st));
        received += static_cast<int64_t>(got);
        if (progress) progress(received, total);
      }
      if (ec) {
        co_return R(Unavailable("download cut after " + std::to_string(received) + " of " +
                                    (total < 0 ? std::string("?") : std::to_string(total)) +
                                    " bytes",
                                ec));
      }
    }
    co_return R(std::move(out));
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

std::string HttpsClient::server_certificate_pem() const {
  if (!impl_->stream) return {};
  X509* cert = SSL_get0_peer_certificate(impl_->stream->native_handle());
  if (cert == nullptr) return {};
  auto pem = CertificatePem(cert);
  return pem.ok() ? *pem : std::string();
}

core::Result<HttpResponse> HttpsClient::Request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string wire = RequestHead(method, target, impl_->host, impl_->port, headers);
  wire.reserve(wire.size() + 64 + body.size());
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

core::Result<HttpResponse> HttpsClient::Upload(
    std::string_view method, std::string_view target, int64_t length,
    const std::function<core::Result<size_t>(char* buffer, size_t max)>& read,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::function<void(int64_t sent)>& progress) {
  if (length < 0) return core::InvalidArgument("upload length is negative", "length");
  std::string head = RequestHead(method, target, impl_->host, impl_->port, headers);
  head.append("Content-Length: ").append(std::to_string(length)).append("\r\n");
  // The server answers at once if it will not take the body (no route, no permission),
  // before any of it is sent.
  if (length > 0) head.append("Expect: 100-continue\r\n");
  head.append("\r\n");
  // Until the body starts, a kept-alive connection the server closed meanwhile is
  // retried once on a fresh one, as in Request.
  for (int attempt = 0;; ++attempt) {
    const bool reused = impl_->stream.has_value();
    if (!reused) EDWC_RETURN_IF_ERROR(Connect());
    Status st = impl_->Run(impl_->DoWrite(head));
    core::Result<HttpResponse> first = st.ok() ? impl_->Run(impl_->DoRead()) : st;
    if (!first.ok()) {
      Disconnect();
      if (reused && attempt == 0) continue;
      return first;
    }
    if (first->status != 100) {
      // A final answer to the header alone: the announced body was never sent.
      if (first->close || length > 0) Disconnect();
      return first;
    }
    break;
  }
  bool wire_failed = false;
  Status sent = impl_->Run(impl_->DoWriteBody(length, read, progress, &wire_failed));
  if (!sent.ok() && !wire_failed) {
    Disconnect();  // the server waits for bytes that will not come
    return sent;
  }
  // A server that refuses the body half-way answers and stops reading: if writing
  // failed, its answer may still be waiting to be read.
  auto res = impl_->Run(impl_->DoRead());
  if (!res.ok() || res->close || !sent.ok()) Disconnect();
  if (!res.ok() && !sent.ok()) return sent;
  return res;
}

core::Result<HttpResponse> HttpsClient::Download(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::function<core::Status(std::string_view piece)>& write,
    const std::function<void(int64_t received, int64_t total)>& progress) {
  std::string wire = RequestHead(method, target, impl_->host, impl_->port, headers);
  wire.append("\r\n");
  for (int attempt = 0;; ++attempt) {
    const bool reused = impl_->stream.has_value();
    if (!reused) EDWC_RETURN_IF_ERROR(Connect());
    Status st = impl_->Run(impl_->DoWrite(wire));
    bool got_header = false;
    core::Result<HttpResponse> res =
        st.ok() ? impl_->Run(impl_->DoReadStreamed(method == "HEAD", write, progress, &got_header))
                : st;
    if (res.ok()) {
      if (res->close) Disconnect();
      return res;
    }
    // Cut mid-body, or stopped by `write`: the rest of the body is still on the wire.
    Disconnect();
    // Nothing of the answer arrived on a connection the server may have closed while it
    // sat idle: try once more on a fresh one.
    if (!reused || got_header || attempt > 0) return res;
  }
}

}  // namespace edwc::gateway
