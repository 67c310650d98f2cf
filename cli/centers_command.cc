// `edwc centers`: the federation view as one center sees it, as a table or JSON.
#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "core/json.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

constexpr char kHelp[] =
    R"(Usage: edwc centers [--demo DIR | --url URL --ca FILE --token TOKEN] [--json]

Prints the federation view of one center: every center it knows, its liveness, free
compute and accelerators with the price now.
  --json         print the JSON of GET /v1/centers instead of a table

Example:
  edwc centers --demo ./edwc-demo
)";

std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

}  // namespace

int CentersCommand(int argc, char** argv) {
  Args args("edwc centers", ConnectionOptions(), {"json", "help"});
  if (auto st = args.Parse(argc, argv, 2); !st.ok()) {
    std::fprintf(stderr, "edwc centers: %s\n", st.message().c_str());
    return kExitUsage;
  }
  if (args.Has("help")) {
    std::printf("%sConnection (a token of any role; demo.json's viewer token):\n%s", kHelp,
                ConnectionHelp("viewer").c_str());
    return kExitOk;
  }
  auto connection = ResolveConnection(args, "viewer");
  if (!connection.ok()) {
    std::fprintf(stderr, "edwc centers: %s\n", connection.status().message().c_str());
    return kExitUsage;
  }
  const std::string& url = connection->url;
  auto client = ApiClient::Create(*connection);
  if (!client.ok()) {
    std::fprintf(stderr, "edwc centers: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  auto r = (*client)->Request("GET", "/v1/centers");
  if (!r.ok()) {
    std::fprintf(stderr, "edwc centers: %s\n", r.status().message().c_str());
    return kExitFailure;
  }
  if (r->status != 200) {
    std::fprintf(stderr, "edwc centers: %s\n", ApiErrorLine(r->status, r->body).c_str());
    return ExitCodeForHttpStatus(r->status);
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
