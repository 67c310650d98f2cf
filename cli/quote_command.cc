// `edwc quote`: ranked offers from the federation for a request, without placing anything.
#include <boost/json.hpp>
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/job_format.h"
#include "cli/request_flags.h"
#include "core/json.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

constexpr char kName[] = "edwc quote";

}  // namespace

int QuoteCommand(int argc, char** argv) {
  std::set<std::string> valued = RequestOptions();
  valued.merge(ConnectionOptions());
  Args args(kName, std::move(valued), {"json", "help"});
  if (auto st = args.Parse(argc, argv, 2); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n", kName, st.message().c_str());
    return kExitUsage;
  }
  if (args.Has("help")) {
    std::printf(
        "Usage: edwc quote (--model M | --min-tflops N --min-memory GIB) --duration D [flags]\n\n"
        "Asks the home center for ranked offers from every center that can run the request:\n"
        "total, compute and transfer cost, price per device-hour and per PFLOPS-hour, start\n"
        "and finish; then the centers excluded and why. Nothing is reserved.\n\n%s"
        "Output:\n  --json                 print the JSON answer of POST /v1/quotes\n"
        "Connection:\n%s\n"
        "Example:\n"
        "  edwc quote --model h800 --count 8 --duration 2h --dataset-home beijing-east \\\n"
        "      --dataset-size 500GB --deadline +12h --price-cap 2000 --objective cost\n\n"
        "Exit status: 0 offers found, 1 none or a failure, 2 bad usage.\n",
        RequestFlagsHelp().c_str(), ConnectionHelp("broker").c_str());
    return kExitOk;
  }
  auto body = BuildQuoteRequest(args, core::SystemClock().Now());
  if (!body.ok()) {
    std::fprintf(stderr, "%s: %s\n", kName, body.status().message().c_str());
    return kExitUsage;
  }
  auto connection = ResolveConnection(args, "broker");
  if (!connection.ok()) {
    std::fprintf(stderr, "%s: %s\n", kName, connection.status().message().c_str());
    return kExitUsage;
  }
  auto client = ApiClient::Create(*connection);
  if (!client.ok()) {
    std::fprintf(stderr, "%s: %s\n", kName, client.status().message().c_str());
    return kExitUsage;
  }
  auto r = (*client)->Request("POST", "/v1/quotes", json::serialize(*body));
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", kName, r.status().message().c_str());
    return kExitFailure;
  }
  if (r->status != 200) {
    std::fprintf(stderr, "%s: %s\n", kName, ApiErrorLine(r->status, r->body).c_str());
    return ExitCodeForHttpStatus(r->status);
  }
  auto doc = core::ParseJson(r->body);
  if (!doc.ok()) {
    std::fprintf(stderr, "%s: unreadable answer from %s: %s\n", kName, (*client)->url().c_str(),
                 doc.status().message().c_str());
    return kExitFailure;
  }
  if (args.Has("json")) {
    std::printf("%s\n", r->body.c_str());
  } else {
    std::fputs(RenderQuotes(*doc).c_str(), stdout);
  }
  const json::value* quotes = doc->is_object() ? doc->as_object().if_contains("quotes") : nullptr;
  const bool any = quotes != nullptr && quotes->is_array() && !quotes->as_array().empty();
  return any ? kExitOk : kExitFailure;
}

}  // namespace edwc::cli
