// `edwc centers`: the federation view as one center sees it, as a table or JSON.
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/json.h"
#include "gateway/http_client.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

constexpr char kHelp[] =
    R"(Usage: edwc centers [--demo DIR | --url URL --ca FILE --token TOKEN] [--json]

Prints the federation view of one center: every center it knows, its liveness, free
compute and accelerators with the price now.
  --demo DIR     read the URL, CA and viewer token from DIR/demo.json (default ./edwc-demo)
  --url URL      a center's api URL (https://host:port)
  --ca FILE      the federation CA to verify it
  --token TOKEN  a bearer token of any role (or the EDWC_TOKEN environment variable)
  --json         print the JSON of GET /v1/centers instead of a table
)";

std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

}  // namespace

int CentersCommand(int argc, char** argv) {
  Args args("edwc centers", {"demo", "url", "ca", "token"}, {"json", "help"});
  if (auto st = args.Parse(argc, argv, 2); !st.ok()) {
    std::fprintf(stderr, "edwc centers: %s\n", st.message().c_str());
    return kExitUsage;
  }
  if (args.Has("help")) return std::fputs(kHelp, stdout), kExitOk;
  std::string url = args.Get("url").value_or("");
  std::string ca = args.Get("ca").value_or("");
  std::string token = args.Get("token").value_or("");
  if (token.empty() && std::getenv("EDWC_TOKEN") != nullptr) token = std::getenv("EDWC_TOKEN");
  if (url.empty()) {
    const std::string path =
        (std::filesystem::path(args.Get("demo").value_or("edwc-demo")) / "demo.json").string();
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    auto doc = core::ParseJsonObject(text.str());
    if (!in || !doc.ok()) {
      std::fprintf(stderr, "edwc centers: cannot read %s (start `edwc demo`, or pass --url)\n",
                   path.c_str());
      return kExitUsage;
    }
    const json::array& centers = doc->at("centers").as_array();
    if (centers.empty()) return kExitUsage;
    url = Str(centers[0].at("api_url"));
    if (ca.empty()) ca = Str(doc->at("ca_file"));
    if (token.empty()) token = Str(doc->at("tokens").at("viewer"));
  }
  if (ca.empty() || token.empty()) {
    std::fprintf(stderr, "edwc centers: --ca and --token are needed with --url\n");
    return kExitUsage;
  }
  auto client = gateway::HttpsClient::Create(url, {ca, "", "", false});
  if (!client.ok()) {
    std::fprintf(stderr, "edwc centers: %s\n", client.status().ToString().c_str());
    return kExitUsage;
  }
  auto r = (*client)->Request("GET", "/v1/centers", "", {{"authorization", "Bearer " + token}});
  if (!r.ok()) {
    std::fprintf(stderr, "edwc centers: %s: %s\n", url.c_str(), r.status().ToString().c_str());
    return kExitFailure;
  }
  if (r->status != 200) {
    std::fprintf(stderr, "edwc centers: %s answered %d: %s\n", url.c_str(), r->status,
                 r->body.c_str());
    return kExitFailure;
  }
  if (args.Has("json")) {
    std::printf("%s\n", r->body.c_str());
    return kExitOk;
  }
  auto doc = core::ParseJsonObject(r->body);
  if (!doc.ok()) return kExitFailure;
  std::printf("%-12s %-18s %-18s %-8s %6s %12s  %s\n", "CENTER", "HUB", "CITY", "LIVENESS", "EPOCH",
              "FREE PFLOPS", "ACCELERATORS (free/total @ price now per device-hour)");
  for (const auto& c : doc->at("centers").as_array()) {
    std::string accelerators;
    for (const auto& a : c.at("accelerators").as_array()) {
      if (!accelerators.empty()) accelerators += ", ";
      accelerators += Str(a.at("model")) + " " + Str(a.at("free")) + "/" + Str(a.at("total")) +
                      " @ ¥" + Str(a.at("price_now_per_device_hour_cny"));
    }
    const bool self = c.at("self").as_bool();
    std::printf("%-12s %-18s %-18s %-8s %6s %12s  %s\n",
                (Str(c.at("id")) + (self ? "*" : "")).c_str(), Str(c.at("hub")).c_str(),
                Str(c.at("city")).c_str(), Str(c.at("liveness")).c_str(),
                Str(c.at("epoch")).c_str(), Str(c.at("free_fp16_dense_pflops")).c_str(),
                accelerators.c_str());
  }
  std::printf("(* the center asked: %s)\n", url.c_str());
  return kExitOk;
}

}  // namespace edwc::cli
