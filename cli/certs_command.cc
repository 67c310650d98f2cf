// `edwc certs init-ca` and `edwc certs issue`: a development federation CA and center
// certificates, made with OpenSSL's API (gateway/certs.h).
#include <cstdio>
#include <string>
#include <string_view>

#include "cli/args.h"
#include "cli/commands.h"
#include "gateway/certs.h"

namespace edwc::cli {

namespace {

constexpr char kHelp[] = R"(Usage:
  edwc certs init-ca --dir D [--force]
      Writes D/ca.pem and D/ca.key (mode 0600): a development federation CA
      (EC P-256, 10 years). --force replaces an existing CA.
  edwc certs issue --ca D --center ID --out D2 [--dns NAME]... [--ip ADDR]... [--days N]
      Writes D2/center.pem, D2/chain.pem, D2/center.key (0600) and D2/ca.pem: a center
      certificate for ID (SAN URI edwc://center/ID, DNS localhost, IP 127.0.0.1 and ::1,
      plus the extra names) for both server and client authentication.

Example:
  edwc certs init-ca --dir ca && edwc certs issue --ca ca --center ningxia-zw --out zw
)";

int Fail(std::string_view what, const core::Status& st) {
  std::fprintf(stderr, "edwc certs %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               st.ToString().c_str());
  return st.code() == core::Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

}  // namespace

int CertsCommand(int argc, char** argv) {
  std::string_view sub = argc >= 3 ? argv[2] : "";
  if (sub == "init-ca") {
    Args args("edwc certs init-ca", {"dir"}, {"force", "help"});
    if (auto st = args.Parse(argc, argv, 3); !st.ok()) return Fail(sub, st);
    if (args.Has("help")) return std::fputs(kHelp, stdout), kExitOk;
    auto dir = args.Require("dir");
    if (!dir.ok()) return Fail(sub, dir.status());
    gateway::CaOptions options;
    options.overwrite = args.Has("force");
    if (auto st = gateway::InitDevCa(*dir, options); !st.ok()) return Fail(sub, st);
    std::printf("wrote %s/ca.pem and %s/ca.key\n", dir->c_str(), dir->c_str());
    return kExitOk;
  }
  if (sub == "issue") {
    Args args("edwc certs issue", {"ca", "center", "out", "dns", "ip", "days"}, {"help"});
    if (auto st = args.Parse(argc, argv, 3); !st.ok()) return Fail(sub, st);
    if (args.Has("help")) return std::fputs(kHelp, stdout), kExitOk;
    auto ca = args.Require("ca");
    if (!ca.ok()) return Fail(sub, ca.status());
    auto center = args.Require("center");
    if (!center.ok()) return Fail(sub, center.status());
    auto out = args.Require("out");
    if (!out.ok()) return Fail(sub, out.status());
    auto days = args.GetInt("days", 397, 1, 3650);
    if (!days.ok()) return Fail(sub, days.status());
    gateway::IssueOptions options;
    options.valid_days = static_cast<int>(*days);
    options.extra_dns = args.GetAll("dns");
    options.extra_ips = args.GetAll("ip");
    if (auto st = gateway::IssueCenterCert(*ca, *center, *out, options); !st.ok()) {
      return Fail(sub, st);
    }
    std::printf("wrote %s/center.pem, chain.pem, center.key and ca.pem for center %s\n",
                out->c_str(), center->c_str());
    return kExitOk;
  }
  if (sub == "--help" || sub == "help") return std::fputs(kHelp, stdout), kExitOk;
  std::fprintf(stderr, "edwc certs: expected init-ca or issue\n\n%s", kHelp);
  return kExitUsage;
}

}  // namespace edwc::cli
