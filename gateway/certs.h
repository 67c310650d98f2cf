// Certificates for the federation's mutual TLS: a development CA, center certificates
// issued by it, and the checks the gateway applies to a peer's certificate (its center
// id from the SAN URI edwc://center/<id>, chain verification at a given time).
//
// Everything here goes through OpenSSL 3's C API with RAII wrappers and returns errors
// as values; OpenSSL's error string is part of the message. No function keeps state
// between calls, so all are thread-safe; concurrent writers to the same directory are
// the caller's problem (each file is replaced atomically, but not the set of files).
// The file-writing and file-reading functions block: keep them off I/O threads.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time.h"

struct ssl_ctx_st;

namespace edwc::gateway {

struct CaOptions {
  std::string common_name = "edwc dev federation CA";
  int valid_days = 3650;
  bool overwrite = false;  // replace an existing ca.pem/ca.key
};

// Writes dir/ca.pem and dir/ca.key (0600), creating dir. The CA key is EC P-256, the
// certificate self-signed with basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign.
// Refuses to overwrite existing files unless options.overwrite (kAlreadyExists).
core::Status InitDevCa(const std::string& dir, const CaOptions& options = {});

struct IssueOptions {
  int valid_days = 397;
  std::chrono::seconds not_before_offset{-300};  // tolerate peers' clock skew
  std::vector<std::string> extra_dns;            // SAN DNS names besides localhost
  std::vector<std::string> extra_ips;            // SAN IPs besides 127.0.0.1 and ::1
};

// Reads ca_dir/ca.pem + ca.key; writes out_dir/center.pem (leaf), out_dir/chain.pem
// (leaf + CA), out_dir/center.key (0600), and copies ca.pem to out_dir/ca.pem, creating
// out_dir. kInvalidArgument when center_id is not a valid core::CenterId.
// Leaf: EC P-256 key, random 128-bit serial, subject O=edwc federation, CN=<center_id>;
// SAN URI edwc://center/<id>, DNS localhost, IP 127.0.0.1 and ::1 plus extras;
// basicConstraints CA:FALSE, keyUsage digitalSignature (both critical); extendedKeyUsage
// serverAuth, clientAuth; SKI and AKI. Signed with SHA-256 by the CA key.
core::Status IssueCenterCert(const std::string& ca_dir, const std::string& center_id,
                             const std::string& out_dir, const IssueOptions& options = {});

// The center id from the SAN URI edwc://center/<id> of a PEM certificate (the first
// certificate in the PEM). kNotFound if there is no such SAN; kInvalidArgument on bad PEM
// or an invalid id.
core::Result<std::string> CenterIdFromCertificatePem(std::string_view pem);
core::Result<std::string> CenterIdFromCertificateFile(const std::string& path);

// Verifies the leaf PEM (which may be followed by intermediates) against the CA PEM as
// trust anchor at time `at`. kPermissionDenied with OpenSSL's verify error on failure,
// kInvalidArgument on bad PEM.
core::Status VerifyCertificateAgainstCa(std::string_view leaf_pem, std::string_view ca_pem,
                                        core::Time at);

// kInvalidArgument when the key file does not match the certificate.
core::Status CheckKeyMatchesCertificate(const std::string& cert_file, const std::string& key_file);

// Makes OpenSSL compute now what it otherwise computes on first use, during a handshake:
// the cached extensions of every trust anchor and of the context's own chain. OpenSSL 3.0
// fills that cache under the certificate's lock, but checks whether it is filled without
// it, so two handshakes on two I/O threads could read a certificate while the other
// writes it (ThreadSanitizer saw it: ASN1_STRING_set against ASN1_STRING_cmp). Call once
// the context's certificates are loaded and before it is used.
void PrimeCertificateCaches(ssl_ctx_st* ctx);

// This center's TLS material, read once and checked as a whole. The listeners, the peer
// clients and the signers are all made from these bytes rather than from the files, so
// that a file replaced meanwhile cannot make them disagree.
struct CenterTls {
  std::string cert_file, key_file, ca_file;  // where it was read from
  std::string chain_pem;                     // the center's certificate, then intermediates
  std::string key_pem;
  std::string ca_pem;    // the federation CA certificate(s), the trust anchors
  std::string serial;    // of the center's certificate, hex as `openssl x509 -serial`
  core::Time not_after;  // of the center's certificate

  // Same bytes from the same files: nothing to reload.
  bool SameAs(const CenterTls& other) const {
    return cert_file == other.cert_file && key_file == other.key_file && ca_file == other.ca_file &&
           chain_pem == other.chain_pem && key_pem == other.key_pem && ca_pem == other.ca_pem;
  }
};

// Reads the three files and checks that they belong together and to center `center_id`,
// in this order: the CA file holds only CA certificates; the certificate's SAN URI names
// `center_id`; the key matches it; it chains to the CA file and is within its validity
// at `now`. kInvalidArgument with a message that names the file and what is wrong (an
// unreadable file included); its `field` is tls.ca, tls.cert or tls.key.
// Blocks (file reads): not on an I/O thread.
core::Result<CenterTls> LoadCenterTls(const std::string& cert_file, const std::string& key_file,
                                      const std::string& ca_file, const std::string& center_id,
                                      core::Time now);

// The serial number (uppercase hex, as `openssl x509 -serial` prints it) and the end of
// validity of the first certificate in `pem`.
core::Result<std::string> CertificateSerial(std::string_view pem);
core::Result<core::Time> CertificateNotAfter(std::string_view pem);

// Lowercase hex SHA-256 of bytes.
std::string Sha256Hex(std::string_view bytes);

// "edwc_" + base64url (no padding) of `bytes` random bytes from OpenSSL's CSPRNG. Used for
// demo bearer tokens. Aborts if the CSPRNG fails rather than return a guessable token.
// REQUIRES: bytes >= 0
std::string RandomToken(int bytes = 24);

}  // namespace edwc::gateway
