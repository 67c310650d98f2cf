// HttpsClient: a small blocking HTTPS/1.1 client for the CLI and tests. One keep-alive
// connection, reopened when the server closes it; a deadline on every operation;
// server certificate verified against a CA file (and the host name or IP in the URL);
// an optional client certificate for mTLS. Raw access (WriteRaw/ReadResponse/
// WaitForClose) lets tests send malformed or slow requests over real TLS.
//
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
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

  // Low-level: connect (TCP + TLS handshake), write bytes as they are, read one
  // response, or wait until the server closes the connection.
  core::Status Connect();
  core::Status WriteRaw(std::string_view bytes);
  core::Result<HttpResponse> ReadResponse();
  // OK once the server has closed the connection; kUnavailable if `within` passes first.
  core::Status WaitForClose(std::chrono::milliseconds within);
  void Disconnect();

  int connections_opened() const;

 private:
  struct Impl;
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
