#include "gateway/certs.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/ids.h"
#include "gateway/openssl_ptr.h"
#include "gateway/pem.h"

namespace edwc::gateway {
namespace {

using PkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using X509ExtPtr = OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslFree<GENERAL_NAME_free>>;
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

constexpr char kOrganization[] = "edwc federation";
constexpr std::string_view kCenterUriPrefix = "edwc://center/";
constexpr std::uintmax_t kMaxPemFileBytes = 1 << 20;

core::Status ErrnoError(std::string_view what, const std::string& path) {
  core::Code code = errno == ENOENT ? core::Code::kNotFound : core::Code::kIoError;
  return core::Status(code, std::string(what) + " " + path + ": " + std::strerror(errno));
}

// --- Files -------------------------------------------------------------------------------

// Writes through a temporary file in the same directory and renames it over `path`, so a
// reader sees either the old or the new contents, never a torn file. The temporary is
// created 0600 and only then set to `mode`, so a key is never readable by others.
core::Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode) {
  unsigned char salt[8];
  if (RAND_bytes(salt, sizeof salt) != 1) return OpenSslError(core::Code::kInternal, "RAND_bytes");
  std::string tmp =
      path + ".tmp-" + core::HexEncode(std::string_view(reinterpret_cast<char*>(salt), 8));
  int fd = ::open(tmp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("create", tmp);
  core::Status status;
  if (::fchmod(fd, mode) != 0) status = ErrnoError("chmod", tmp);
  for (size_t done = 0; status.ok() && done < contents.size();) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      status = ErrnoError("write", tmp);
    else
      done += static_cast<size_t>(n);
  }
  if (status.ok() && ::fsync(fd) != 0) status = ErrnoError("fsync", tmp);
  if (::close(fd) != 0 && status.ok()) status = ErrnoError("close", tmp);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) status = ErrnoError("rename", path);
  if (!status.ok()) ::unlink(tmp.c_str());
  return status;
}

core::Status CreateDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return core::IoError("create directory " + dir + ": " + ec.message());
  return core::Status::Ok();
}

// --- PEM ---------------------------------------------------------------------------------

core::Result<X509Ptr> ParseFirstCertificate(std::string_view pem) {
  EDWC_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError(core::Code::kInvalidArgument, "bad certificate PEM");
  return cert;
}

core::Result<PkeyPtr> ParsePrivateKey(std::string_view pem) {
  EDWC_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(pem));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError(core::Code::kInvalidArgument, "bad private key PEM");
  return key;
}

core::Result<X509Ptr> ReadCertificateFile(const std::string& path) {
  EDWC_ASSIGN_OR_RETURN(std::string pem, ReadPemFile(path));
  auto cert = ParseFirstCertificate(pem);
  if (!cert.ok()) return cert.status().WithContext(path);
  return cert;
}

core::Result<PkeyPtr> ReadPrivateKeyFile(const std::string& path) {
  EDWC_ASSIGN_OR_RETURN(std::string pem, ReadPemFile(path));
  auto key = ParsePrivateKey(pem);
  if (!key.ok()) return key.status().WithContext(path);
  return key;
}

// Drains a memory BIO written by one of the PEM_write_bio_* functions.
std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

core::Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(core::Code::kInternal, "PEM_write_bio_PrivateKey");
  }
  return BioContents(bio.get());
}

// --- Building certificates ---------------------------------------------------------------

core::Result<PkeyPtr> NewP256Key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpenSslError(core::Code::kInternal, "EC P-256 key generation");
  return key;
}

// A fresh X509 with version 3, a random 128-bit serial, the subject O/CN, the validity
// [now + not_before_offset, now + valid_days] and the public key of `key`.
core::Result<X509Ptr> NewCertificate(const std::string& common_name, EVP_PKEY* key,
                                     std::chrono::seconds not_before_offset, int valid_days) {
  if (valid_days <= 0) return core::InvalidArgument("must be positive", "valid_days");
  X509Ptr cert(X509_new());
  unsigned char serial[16];
  if (!cert || RAND_bytes(serial, sizeof serial) != 1) {
    return OpenSslError(core::Code::kInternal, "new certificate");
  }
  serial[0] |= 0x01;  // never zero
  BignumPtr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  auto add_entry = [name](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                      0) == 1;
  };
  time_t now = std::time(nullptr);
  bool ok = bn && X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
            BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) != nullptr &&
            add_entry("O", kOrganization) && add_entry("CN", common_name) &&
            X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0,
                             static_cast<long>(not_before_offset.count()), &now) != nullptr &&
            X509_time_adj_ex(X509_getm_notAfter(cert.get()), valid_days, 0, &now) != nullptr &&
            X509_set_pubkey(cert.get(), key) == 1;
  if (!ok) return OpenSslError(core::Code::kInvalidArgument, "fill certificate");
  return cert;
}

// Adds extensions given in OpenSSL's config syntax ("critical,CA:TRUE"); `issuer` is the
// certificate whose key identifier an authorityKeyIdentifier refers to.
core::Status AddExtensions(X509* cert, X509* issuer,
                           std::initializer_list<std::pair<int, const char*>> extensions) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
      return OpenSslError(core::Code::kInternal,
                          std::string("add extension ") + OBJ_nid2sn(nid) + "=" + value);
    }
  }
  return core::Status::Ok();
}

// DNS names are checked loosely: a SAN that no client asks for does no harm, but a
// malformed one makes some TLS stacks reject the whole certificate.
bool LooksLikeDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  if (name.starts_with("*.")) name.remove_prefix(2);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return !name.empty();
}

// Built from GENERAL_NAMEs rather than a config string so that an extra name cannot
// smuggle in further entries with a comma.
core::Status AddSubjectAltNames(X509* cert, const std::string& center_id,
                                const IssueOptions& options) {
  std::vector<std::pair<int, std::string>> entries = {
      {GEN_URI, std::string(kCenterUriPrefix) + center_id},
      {GEN_DNS, "localhost"},
      {GEN_IPADD, "127.0.0.1"},
      {GEN_IPADD, "::1"}};
  for (const std::string& dns : options.extra_dns) {
    if (!LooksLikeDnsName(dns)) return core::InvalidArgument("bad DNS name: " + dns, "extra_dns");
    entries.emplace_back(GEN_DNS, dns);
  }
  for (const std::string& ip : options.extra_ips) entries.emplace_back(GEN_IPADD, ip);

  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpenSslError(core::Code::kInternal, "sk_GENERAL_NAME_new_null");
  for (const auto& [type, value] : entries) {
    GeneralNamePtr name(a2i_GENERAL_NAME(nullptr, nullptr, nullptr, type, value.c_str(), 0));
    if (!name) {
      core::Status error = OpenSslError(core::Code::kInvalidArgument, "bad SAN " + value);
      return core::Status(error.code(), error.message(),
                          type == GEN_IPADD ? "extra_ips" : "extra_dns");
    }
    if (sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return OpenSslError(core::Code::kInternal, "sk_GENERAL_NAME_push");
    }
    name.release();  // owned by `names` now
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(core::Code::kInternal, "add subjectAltName");
  }
  return core::Status::Ok();
}

core::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return OpenSslError(core::Code::kInternal, "sign certificate");
  }
  return core::Status::Ok();
}

core::Status RefuseExisting(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    return core::Status(core::Code::kAlreadyExists,
                        path + " exists; pass overwrite to replace the CA");
  }
  if (ec) return core::IoError("stat " + path + ": " + ec.message());
  return core::Status::Ok();
}

// The CA as read back from InitDevCa's files.
struct CaMaterial {
  X509Ptr cert;
  PkeyPtr key;
  std::string pem;
};

core::Result<CaMaterial> LoadCa(const std::string& ca_dir) {
  CaMaterial ca;
  EDWC_ASSIGN_OR_RETURN(ca.pem, ReadPemFile(ca_dir + "/ca.pem"));
  EDWC_ASSIGN_OR_RETURN(ca.cert, ParseFirstCertificate(ca.pem));
  EDWC_ASSIGN_OR_RETURN(ca.key, ReadPrivateKeyFile(ca_dir + "/ca.key"));
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    return OpenSslError(core::Code::kInvalidArgument, "ca.key does not match ca.pem in " + ca_dir);
  }
  if (X509_check_ca(ca.cert.get()) == 0) {
    return core::InvalidArgument(ca_dir + "/ca.pem is not a CA certificate");
  }
  return ca;
}

}  // namespace

// --- Shared helpers (gateway/pem.h) -------------------------------------------------------

core::Status OpenSslError(core::Code code, std::string_view what) {
  std::string message(what);
  while (unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    message += message.size() == what.size() ? ": " : "; ";
    message += buf;
  }
  return core::Status(code, std::move(message));
}

core::Result<std::string> ReadPemFile(const std::string& path) {
  std::error_code ec;
  std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    core::Code code =
        ec == std::errc::no_such_file_or_directory ? core::Code::kNotFound : core::Code::kIoError;
    return core::Status(code, "read " + path + ": " + ec.message());
  }
  if (size > kMaxPemFileBytes) return core::InvalidArgument("read " + path + ": file too large");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (!in.good() && !in.eof()) return core::IoError("read " + path + ": read failed");
  return contents.str();
}

core::Result<BioPtr> MemoryBio(std::string_view bytes) {
  if (bytes.size() > INT_MAX) return core::InvalidArgument("PEM too large");
  BioPtr bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
  if (!bio) return OpenSslError(core::Code::kInternal, "BIO_new_mem_buf");
  return bio;
}

core::Result<std::vector<X509Ptr>> ParsePemCertificates(std::string_view pem) {
  EDWC_ASSIGN_OR_RETURN(BioPtr bio, MemoryBio(pem));
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (certs.empty() || !clean_end) {
    return OpenSslError(core::Code::kInvalidArgument, "bad certificate PEM");
  }
  ERR_clear_error();
  return certs;
}

core::Result<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(core::Code::kInternal, "PEM_write_bio_X509");
  }
  return BioContents(bio.get());
}

core::Status InitDevCa(const std::string& dir, const CaOptions& options) {
  const std::string cert_path = dir + "/ca.pem";
  const std::string key_path = dir + "/ca.key";
  if (!options.overwrite) {
    EDWC_RETURN_IF_ERROR(RefuseExisting(cert_path));
    EDWC_RETURN_IF_ERROR(RefuseExisting(key_path));
  }
  if (options.common_name.empty()) return core::InvalidArgument("empty", "common_name");
  EDWC_ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  EDWC_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(options.common_name, key.get(),
                                                     std::chrono::minutes(-5), options.valid_days));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return OpenSslError(core::Code::kInternal, "X509_set_issuer_name");
  }
  EDWC_RETURN_IF_ERROR(AddExtensions(cert.get(), cert.get(),
                                     {{NID_basic_constraints, "critical,CA:TRUE"},
                                      {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                      {NID_subject_key_identifier, "hash"}}));
  EDWC_RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  EDWC_ASSIGN_OR_RETURN(std::string cert_pem, CertificatePem(cert.get()));
  EDWC_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyPem(key.get()));
  EDWC_RETURN_IF_ERROR(CreateDirectory(dir));
  // Key first: a ca.pem without its key would look like a usable CA to the next run.
  EDWC_RETURN_IF_ERROR(WriteFileAtomically(key_path, key_pem, 0600));
  return WriteFileAtomically(cert_path, cert_pem, 0644);
}

core::Status IssueCenterCert(const std::string& ca_dir, const std::string& center_id,
                             const std::string& out_dir, const IssueOptions& options) {
  if (!core::IsValidCenterId(center_id)) {
    return core::InvalidArgument("invalid center id '" + center_id + "'", "center_id");
  }
  EDWC_ASSIGN_OR_RETURN(CaMaterial ca, LoadCa(ca_dir));
  EDWC_ASSIGN_OR_RETURN(PkeyPtr key, NewP256Key());
  EDWC_ASSIGN_OR_RETURN(
      X509Ptr cert,
      NewCertificate(center_id, key.get(), options.not_before_offset, options.valid_days));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())) != 1) {
    return OpenSslError(core::Code::kInternal, "X509_set_issuer_name");
  }
  EDWC_RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), center_id, options));
  EDWC_RETURN_IF_ERROR(AddExtensions(cert.get(), ca.cert.get(),
                                     {{NID_basic_constraints, "critical,CA:FALSE"},
                                      {NID_key_usage, "critical,digitalSignature"},
                                      {NID_ext_key_usage, "serverAuth,clientAuth"},
                                      {NID_subject_key_identifier, "hash"},
                                      {NID_authority_key_identifier, "keyid:always"}}));
  EDWC_RETURN_IF_ERROR(Sign(cert.get(), ca.key.get()));
  EDWC_ASSIGN_OR_RETURN(std::string cert_pem, CertificatePem(cert.get()));
  EDWC_ASSIGN_OR_RETURN(std::string key_pem, PrivateKeyPem(key.get()));
  EDWC_RETURN_IF_ERROR(CreateDirectory(out_dir));
  EDWC_RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/center.key", key_pem, 0600));
  EDWC_RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/center.pem", cert_pem, 0644));
  EDWC_RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/chain.pem", cert_pem + ca.pem, 0644));
  return WriteFileAtomically(out_dir + "/ca.pem", ca.pem, 0644);
}

core::Result<std::string> CenterIdFromCertificatePem(std::string_view pem) {
  EDWC_ASSIGN_OR_RETURN(X509Ptr cert, ParseFirstCertificate(pem));
  int crit = 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, &crit, nullptr)));
  if (!names && crit == -1) return core::NotFound("certificate has no subjectAltName");
  if (!names) return OpenSslError(core::Code::kInvalidArgument, "bad subjectAltName");
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* value = name->d.uniformResourceIdentifier;
    std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                         static_cast<size_t>(ASN1_STRING_length(value)));
    if (!uri.starts_with(kCenterUriPrefix)) continue;
    std::string id(uri.substr(kCenterUriPrefix.size()));
    if (!core::IsValidCenterId(id)) {
      return core::InvalidArgument("invalid center id in certificate URI " + std::string(uri));
    }
    return id;
  }
  return core::NotFound("certificate has no subjectAltName URI " + std::string(kCenterUriPrefix));
}

core::Result<std::string> CenterIdFromCertificateFile(const std::string& path) {
  EDWC_ASSIGN_OR_RETURN(std::string pem, ReadPemFile(path));
  auto id = CenterIdFromCertificatePem(pem);
  if (!id.ok()) return id.status().WithContext(path);
  return id;
}

core::Status VerifyCertificateAgainstCa(std::string_view leaf_pem, std::string_view ca_pem,
                                        core::Time at) {
  EDWC_ASSIGN_OR_RETURN(std::vector<X509Ptr> chain, ParsePemCertificates(leaf_pem));
  EDWC_ASSIGN_OR_RETURN(std::vector<X509Ptr> anchors, ParsePemCertificates(ca_pem));
  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return OpenSslError(core::Code::kInternal, "verify setup");
  for (const X509Ptr& anchor : anchors) {
    if (X509_STORE_add_cert(store.get(), anchor.get()) != 1) {  // takes its own reference
      return OpenSslError(core::Code::kInternal, "X509_STORE_add_cert");
    }
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (sk_X509_push(untrusted.get(), chain[i].get()) == 0) {
      return OpenSslError(core::Code::kInternal, "sk_X509_push");
    }
    chain[i].release();  // owned by `untrusted` now
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted.get()) != 1) {
    return OpenSslError(core::Code::kInternal, "X509_STORE_CTX_init");
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch());
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             static_cast<time_t>(seconds.count()));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return core::Status(
        core::Code::kPermissionDenied,
        std::string("certificate verification failed: ") + X509_verify_cert_error_string(err));
  }
  return core::Status::Ok();
}

core::Status CheckKeyMatchesCertificate(const std::string& cert_file, const std::string& key_file) {
  EDWC_ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificateFile(cert_file));
  EDWC_ASSIGN_OR_RETURN(PkeyPtr key, ReadPrivateKeyFile(key_file));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return OpenSslError(core::Code::kInvalidArgument,
                        key_file + " does not match the certificate " + cert_file);
  }
  return core::Status::Ok();
}

core::Result<CenterTls> LoadCenterTls(const std::string& cert_file, const std::string& key_file,
                                      const std::string& ca_file, const std::string& center_id,
                                      core::Time now) {
  CenterTls tls;
  tls.cert_file = cert_file;
  tls.key_file = key_file;
  tls.ca_file = ca_file;
  const auto read = [](const std::string& path, std::string& out, const char* field) {
    auto pem = ReadPemFile(path);
    if (!pem.ok()) return core::InvalidArgument(pem.status().message(), field);
    out = std::move(pem).value();
    return core::Status::Ok();
  };
  EDWC_RETURN_IF_ERROR(read(ca_file, tls.ca_pem, "tls.ca"));
  EDWC_RETURN_IF_ERROR(read(cert_file, tls.chain_pem, "tls.cert"));
  EDWC_RETURN_IF_ERROR(read(key_file, tls.key_pem, "tls.key"));
  auto anchors = ParsePemCertificates(tls.ca_pem);
  if (!anchors.ok()) {
    return core::InvalidArgument(ca_file + ": " + anchors.status().message(), "tls.ca");
  }
  for (const X509Ptr& anchor : *anchors) {
    if (X509_check_ca(anchor.get()) == 0) {
      return core::InvalidArgument(ca_file + " holds a certificate that is not a CA", "tls.ca");
    }
  }
  auto id = CenterIdFromCertificatePem(tls.chain_pem);
  if (!id.ok()) return core::InvalidArgument(cert_file + ": " + id.status().message(), "tls.cert");
  if (*id != center_id) {
    return core::InvalidArgument(
        cert_file + " is the certificate of center '" + *id + "', not of '" + center_id + "'",
        "tls.cert");
  }
  EDWC_ASSIGN_OR_RETURN(X509Ptr leaf, ParseFirstCertificate(tls.chain_pem));
  auto key = ParsePrivateKey(tls.key_pem);
  if (!key.ok()) return core::InvalidArgument(key_file + ": " + key.status().message(), "tls.key");
  if (X509_check_private_key(leaf.get(), key->get()) != 1) {
    ERR_clear_error();
    return core::InvalidArgument(key_file + " does not match the certificate " + cert_file,
                                 "tls.key");
  }
  if (auto st = VerifyCertificateAgainstCa(tls.chain_pem, tls.ca_pem, now); !st.ok()) {
    return core::InvalidArgument(
        cert_file + " does not verify against " + ca_file + ": " + st.message(), "tls.cert");
  }
  EDWC_ASSIGN_OR_RETURN(tls.serial, CertificateSerial(tls.chain_pem));
  EDWC_ASSIGN_OR_RETURN(tls.not_after, CertificateNotAfter(tls.chain_pem));
  return tls;
}

core::Result<std::string> CertificateSerial(std::string_view pem) {
  EDWC_ASSIGN_OR_RETURN(X509Ptr cert, ParseFirstCertificate(pem));
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  char* hex = bn ? BN_bn2hex(bn.get()) : nullptr;
  if (hex == nullptr) return OpenSslError(core::Code::kInternal, "certificate serial");
  std::string serial(hex);
  OPENSSL_free(hex);
  return serial;
}

core::Result<core::Time> CertificateNotAfter(std::string_view pem) {
  EDWC_ASSIGN_OR_RETURN(X509Ptr cert, ParseFirstCertificate(pem));
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    return OpenSslError(core::Code::kInvalidArgument, "bad notAfter");
  }
  return core::Time(std::chrono::seconds(timegm(&tm)));
}

std::string Sha256Hex(std::string_view bytes) {
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up (locks, string
  // compares) on every call, which showed in profiles of bearer-token checks.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct CtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // SHA-256 of memory fails only on allocation failure inside OpenSSL.
  if (kSha256 == nullptr || ctx == nullptr ||
      EVP_DigestInit_ex2(ctx.get(), kSha256, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) {
    std::fputs("edwc: SHA-256 failed\n", stderr);
    std::abort();
  }
  return core::HexEncode(std::string_view(reinterpret_cast<char*>(digest), size));
}

std::string RandomToken(int bytes) {
  assert(bytes >= 0);
  std::vector<unsigned char> random(static_cast<size_t>(bytes > 0 ? bytes : 0));
  if (!random.empty() && RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    std::fputs("edwc: RAND_bytes failed; refusing to mint a guessable token\n", stderr);
    std::abort();
  }
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token = "edwc_";
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char b : random) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      token += kAlphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) token += kAlphabet[(acc << (6 - bits)) & 0x3f];
  return token;
}

void PrimeCertificateCaches(SSL_CTX* ctx) {
  if (X509_STORE* store = SSL_CTX_get_cert_store(ctx)) {
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
      if (X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) {
        X509_get_extension_flags(cert);
      }
    }
  }
  if (X509* own = SSL_CTX_get0_certificate(ctx)) X509_get_extension_flags(own);
  STACK_OF(X509)* chain = nullptr;
  if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1) {
    for (int i = 0; i < sk_X509_num(chain); ++i) X509_get_extension_flags(sk_X509_value(chain, i));
  }
}

}  // namespace edwc::gateway
