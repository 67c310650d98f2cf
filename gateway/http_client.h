// HttpsClient: a small blocking HTTPS/1.1 client for the CLI and tests. One keep-alive
// connection, reopened when the server closes it; a deadline on every operation;
// server certificate verified against a CA file (and the host name or IP in the URL);
// an optional client certificate for mTLS. Raw access (WriteRaw/ReadResponse/
// WaitForClose) lets tests send malformed or slow requests over real TLS.
//
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "gateway/http_types.h"

namespace edwc::gateway {

struct ClientTls {
  std::string ca_file;    // CA to verify the server against (required)
  std::string cert_file;  // optional client certificate (mTLS)
  std::string key_file;
  bool tls13_only = false;
};

class HttpsClient {
 public:
  // `base_url` is "https://host:port" (no path).
  static core::Result<std::unique_ptr<HttpsClient>> Create(
      std::string_view base_url, ClientTls tls,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpsClient();

  // Sends one request on the kept-alive connection (connecting first if needed) and
  // reads the response. Connection failures are kUnavailable.
  core::Result<HttpResponse> Request(
      std::string_view method, std::string_view target, std::string_view body = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {});

  // Streams a request body of exactly `length` bytes, pulled from `read(buffer, max)`
  // (returns how many bytes it put in buffer, > 0 until `length` is reached), with
  // Content-Length; `progress(bytes_sent)` after each piece (may be empty). The answer is
  // read whole. Memory: one piece (1 MiB) at a time. Sends `Expect: 100-continue` and
  // waits for it, so that a refusal (401, 403, 404, 413...) comes back before any of the
  // body is sent; a server refusing half-way still has its answer returned. A `read`
  // error stops the upload, closes the connection and is returned.
  core::Result<HttpResponse> Upload(
      std::string_view method, std::string_view target, int64_t length,
      const std::function<core::Result<size_t>(char* buffer, size_t max)>& read,
      const std::vector<std::pair<std::string, std::string>>& headers = {},
      const std::function<void(int64_t sent)>& progress = {});

  // Sends a bodiless request and streams a 2xx answer's body to `write(piece)` piece by
  // piece (any size; the returned response has an empty body, and its headers);
  // `progress(received, total)` after each piece, total = Content-Length or -1. A non-2xx
  // answer is returned whole (up to 1 MiB) without calling `write`. A `write` error stops
  // the download and is returned. A body cut short (the server closed the connection)
  // is kUnavailable, after every byte that did arrive went to `write`. Pieces are at most
  // 1 MiB.
  core::Result<HttpResponse> Download(
      std::string_view method, std::string_view target,
      const std::vector<std::pair<std::string, std::string>>& headers,
      const std::function<core::Status(std::string_view piece)>& write,
      const std::function<void(int64_t received, int64_t total)>& progress = {});

  // Low-level: connect (TCP + TLS handshake), write bytes as they are, read one
  // response, or wait until the server closes the connection.
  core::Status Connect();
  core::Status WriteRaw(std::string_view bytes);
  core::Result<HttpResponse> ReadResponse();
  // OK once the server has closed the connection; kUnavailable if `within` passes first.
  core::Status WaitForClose(std::chrono::milliseconds within);
  void Disconnect();

  int connections_opened() const;
  // The certificate the server presented on the open connection (PEM), or empty.
  std::string server_certificate_pem() const;

 private:
  struct Impl;
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
