// Small OpenSSL helpers shared by the certificate code (certs.cc, where they live),
// advert signing and the servers: PEM files and buffers, certificates to and from PEM,
// and errors carrying OpenSSL's own reasons. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gateway/openssl_ptr.h"

namespace edwc::gateway {

// A Status whose message is `what` followed by OpenSSL's queued errors, which it drains
// so that they do not leak into the next report on this thread.
core::Status OpenSslError(core::Code code, std::string_view what);

// The contents of a PEM file of at most 1 MiB (kNotFound, kIoError, kInvalidArgument).
core::Result<std::string> ReadPemFile(const std::string& path);

// A read-only BIO over `bytes`, which must outlive it.
core::Result<BioPtr> MemoryBio(std::string_view bytes);

// Every certificate in `pem`, in order (leaf first in a chain); kInvalidArgument if there
// is none or the PEM is damaged.
core::Result<std::vector<X509Ptr>> ParsePemCertificates(std::string_view pem);

// `cert` as PEM text.
core::Result<std::string> CertificatePem(X509* cert);

}  // namespace edwc::gateway
