// Shared test fixtures: a temporary directory per test, a test PKI made at test time
// (gateway/certs.h) and a complete center configuration around it. Nothing here is a
// fake: agents built from these configs are real gateways on loopback port 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/center_config.h"

namespace edwc::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct TestPki {
  std::string ca_file;    // the federation CA certificate
  std::string cert_file;  // chain.pem of the center
  std::string key_file;
};

// A dev CA in dir/ca and a certificate for `center` in dir/<center>, naming `extra_ips`
// besides loopback. Aborts the test binary on failure (it is set-up, not the thing under
// test).
TestPki MakeTestPki(const std::string& dir, const std::string& center,
                    const std::vector<std::string>& extra_ips = {});

// Issues a certificate for `center` into `out` (as IssueCenterCert) that expired
// yesterday: valid from ten days ago to one day ago, re-signed by the CA in `ca_dir`.
// (IssueCenterCert dates a certificate's end from now, so it cannot make one.)
void IssueExpiredCenterCert(const std::string& ca_dir, const std::string& center,
                            const std::string& out);

// A raw OpenSSL client pinned to one protocol `version` (TLS1_2_VERSION, ...): whether a
// handshake with 127.0.0.1:`port` completes. `ciphers12` (TLS 1.2 and below) is offered
// at security level 0, so that weak suites can be shown refused by the server; `client`
// presents that center's certificate. The server's certificate is not checked.
bool TlsHandshakeSucceeds(uint16_t port, int version, const char* ciphers12 = nullptr,
                          const TestPki* client = nullptr);

// The whole content of the file at `path`; empty when it cannot be read (a log not
// written yet reads as empty).
std::string ReadText(const std::string& path);

// The bearer token the test config accepts for each role: "test-viewer-token", ...
std::string TokenFor(config::Role role);

// A complete config for center `center` listening on 127.0.0.1:0, storage in dir/data,
// inventory 16 h800 and 64 ascend-910b priced 20.00 / 9.00 per device-hour (night
// 22:00-06:00 at 14.00 / 6.30), egress 0.50 per GB, one token per role.
config::CenterConfig TestCenterConfig(const std::string& dir, const TestPki& pki,
                                      const std::string& center = "testcenter");

}  // namespace edwc::testing
