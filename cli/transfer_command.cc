// `edwc transfer start|show|list|cancel|watch`: move a dataset between centers through the
// home center (docs/datasets.md, "Transfers") and follow it with a progress bar.
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/connection.h"
#include "cli/job_format.h"
#include "cli/progress.h"
#include "cli/request_flags.h"
#include "cli/verb.h"
#include "core/dataset.h"
#include "core/json.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

constexpr char kUsage[] = R"(Usage:
  edwc transfer start --dataset D --from C --to C [--name N] [--key K] [--wait]
  edwc transfer list
  edwc transfer show ID
  edwc transfer cancel ID
  edwc transfer watch ID [--interval 500ms] [--quiet]
Each accepts --json (except watch), the connection flags and --help.
)";

constexpr char kStartHelp[] =
    R"(Usage: edwc transfer start --dataset D --from C --to C [--name N] [--key K] [--wait]

Asks the home center to copy dataset D from center C to another (POST /v1/transfers):
it checks residency, plans the path (direct or through a faster relay) and the receiver
starts pulling at once. Prints the transfer's id and plan: each leg's bandwidth and
round trip, the relay, the ETA and the egress cost.
  --dataset D        the dataset at the source
  --from C, --to C   source and destination center ids
  --name N           the copy's name at the destination (default: D)
  --key K            idempotency key: starting again with the same K never starts a
                     second transfer (default: a random key, printed if the answer is lost)
  --wait             then follow it like `edwc transfer watch`
  --interval I       with --wait: how often to ask (default 500ms)
  --quiet, -q        with --wait: no progress bar
  --json             print the JSON answer
Example:
  edwc transfer start --dataset corpus-2026 --from qingpu --to zhongwei --wait
Exit status: 0 started (with --wait: done), 1 refused by the server or failed,
2 bad usage or a residency refusal (403).
)";

constexpr char kListHelp[] = R"(Usage: edwc transfer list [--json]

Lists the transfers requested at the home center with their last known state:
ID DATASET FROM TO STATE PROGRESS CREATED.
  --json             print the JSON answer of GET /v1/transfers
Example:
  edwc transfer list
)";

constexpr char kShowHelp[] = R"(Usage: edwc transfer show ID [--json]

Prints one transfer as the receiver sees it: state, bytes, rate, ETA, the plan and its
egress cost, and the error of a failed one.
  --json             print the JSON answer of GET /v1/transfers/ID
Example:
  edwc transfer show tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P5
)";

constexpr char kCancelHelp[] = R"(Usage: edwc transfer cancel ID [--json]

Cancels a transfer; the partial copy at the receiver is removed.
  --json             print the JSON answer of DELETE /v1/transfers/ID
Example:
  edwc transfer cancel tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P5
)";

constexpr char kWatchHelp[] = R"(Usage: edwc transfer watch ID [--interval 500ms] [--quiet]

Follows a transfer with a progress bar on stderr until it is done, failed or cancelled.
  --interval I       how often to ask (default 500ms; 2s, 1m)
  --quiet, -q        no progress bar
Example:
  edwc transfer watch tr_01JDZ6Q3W8N4V5T7X9Y2K3M4P5 --interval 2s
Exit status: 0 when the transfer is done, 1 when it failed or was cancelled.
)";

bool IsTransferId(std::string_view id) { return IsPlainId(id, 160); }

bool IsEnded(std::string_view state) {
  return state == "done" || state == "failed" || state == "cancelled";
}

int64_t IntField(const json::value& o, std::string_view key, int64_t fallback) {
  const json::value* v = Member(o, key);
  return v != nullptr && v->is_int64() ? v->as_int64() : fallback;
}

std::optional<double> NumberField(const json::value& o, std::string_view key) {
  const json::value* v = Member(o, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  return std::nullopt;
}

// "1.3 GiB / 3.0 GiB (42%)"; "-" when the total is unknown.
std::string ProgressText(const json::value& t) {
  const int64_t done = IntField(t, "bytes_done", -1);
  const int64_t total = IntField(t, "total_bytes", -1);
  if (done < 0 || total < 0) return "-";
  const int64_t percent = total == 0 ? 100 : done * 100 / total;
  return HumanBytes(done) + " / " + HumanBytes(total) + " (" + std::to_string(percent) + "%)";
}

// The plan: one line per leg, then the relay, ETA and egress.
std::string RenderPlan(const json::value& plan) {
  std::string out;
  const json::value* legs = Member(plan, "legs");
  if (legs != nullptr && legs->is_array()) {
    out += "plan:\n";
    int i = 0;
    for (const json::value& leg : legs->as_array()) {
      const json::value* assumed = Member(leg, "assumed");
      out += "  " + std::to_string(++i) + ". " + FieldText(leg, "from") + " -> " +
             FieldText(leg, "to") + "  " + FieldText(leg, "bandwidth_mbps") + " Mbit/s  RTT " +
             FieldText(leg, "rtt_ms") + " ms  egress ¥" + MoneyText(leg, "egress") +
             (assumed != nullptr && assumed->is_bool() && assumed->as_bool()
                  ? "  (link not advertised: assumed)"
                  : "") +
             "\n";
    }
  }
  const json::value* relay = Member(plan, "relay");
  out +=
      "relay:    " +
      (relay != nullptr && relay->is_string() ? std::string(relay->as_string()) : "none (direct)") +
      "\n";
  if (const int64_t eta = IntField(plan, "eta_ms", -1); eta >= 0) {
    out += "ETA:      " + HumanDuration(std::chrono::milliseconds(eta)) + " (planned)\n";
  }
  out += "egress:   ¥" + MoneyText(plan, "egress") + "\n";
  return out;
}

// A transfer as GET /v1/transfers/{id} answers it.
std::string RenderTransfer(const json::value& t) {
  std::string out = "transfer " + FieldText(t, "id") + ": " + FieldText(t, "dataset") + " " +
                    FieldText(t, "from") + " -> " + FieldText(t, "to");
  const std::string name = FieldText(t, "name");
  if (name != "-" && name != FieldText(t, "dataset")) out += " as " + name;
  out += "\n";
  const json::value* stale = Member(t, "stale");
  const bool is_stale = stale != nullptr && stale->is_bool() && stale->as_bool();
  out += "state:    " + FieldText(t, "state") +
         (is_stale ? " (last known: the receiver did not answer)" : "") + "\n";
  out += "progress: " + ProgressText(t);
  if (auto rate = NumberField(t, "rate_bytes_per_s"); rate && *rate > 0) {
    out += "  " + HumanBytes(static_cast<int64_t>(*rate)) + "/s";
  }
  if (const int64_t eta = IntField(t, "eta_ms", -1); eta >= 0 && !IsEnded(FieldText(t, "state"))) {
    out += "  ETA " + HumanDuration(std::chrono::milliseconds(eta));
  }
  out += "\n";
  if (const json::value* e = Member(t, "error");
      e != nullptr && e->is_string() && !e->as_string().empty()) {
    out += "error:    " + std::string(e->as_string()) + "\n";
  }
  if (const json::value* plan = Member(t, "plan"); plan != nullptr && plan->is_object()) {
    out += RenderPlan(*plan);
  } else if (const json::value* relay = Member(t, "relay"); relay && relay->is_string()) {
    out += "relay:    " + std::string(relay->as_string()) + "\n";
  }
  out += "created:  " + CompactTime(FieldText(t, "created_at"));
  if (Member(t, "finished_at") != nullptr) {
    out += ", finished " + CompactTime(FieldText(t, "finished_at"));
  }
  out += "\n";
  return out;
}

// {"transfer": {...}} from an answer's body.
std::optional<json::value> TransferOf(const std::string& body) {
  auto doc = core::ParseJsonObject(body);
  if (!doc.ok()) return std::nullopt;
  const json::value* t = doc->if_contains("transfer");
  if (t == nullptr || !t->is_object()) return std::nullopt;
  return *t;
}

// argv with -q spelled --quiet.
struct LongArgv {
  std::vector<std::string> words;
  std::vector<char*> argv;
  LongArgv(int argc, char** raw) {
    for (int i = 0; i < argc; ++i)
      words.push_back(std::string(raw[i]) == "-q" ? "--quiet" : raw[i]);
    for (std::string& w : words) argv.push_back(w.data());
  }
};

std::optional<int> Prepare(int argc, char** argv, Args* args, const char* help, size_t positional,
                           Verb* verb) {
  LongArgv long_argv(argc, argv);
  args->AllowPositional(positional);
  if (auto st = args->Parse(static_cast<int>(long_argv.argv.size()), long_argv.argv.data(), 3);
      !st.ok()) {
    return verb->Usage(st.message());
  }
  return PrepareVerb(*args, help, positional, "transfer", 160, "broker", verb);
}

int Start(int argc, char** argv) {
  Verb verb{"edwc transfer start"};
  Args args =
      MakeArgs(verb.name, {"dataset", "from", "to", "name", "key", "interval"}, {"wait", "quiet"});
  if (auto done = Prepare(argc, argv, &args, kStartHelp, 0, &verb)) return *done;
  json::object body;
  for (const char* flag : {"dataset", "from", "to"}) {
    auto value = args.Require(flag);
    if (!value.ok()) return verb.Usage(value.status().message());
    body[flag] = *value;
  }
  if (!core::ValidDatasetName(body["dataset"].as_string())) {
    return verb.Usage("--dataset: '" + std::string(body["dataset"].as_string()) +
                      "' is not a dataset name");
  }
  if (auto name = args.Get("name")) {
    if (!core::ValidDatasetName(*name)) return verb.Usage("--name: '" + *name + "' is not a name");
    body["name"] = *name;
  }
  const std::string key = args.Get("key").value_or(NewIdempotencyKey());
  if (key.empty() || key.size() > 128) return verb.Usage("--key: 1 to 128 characters");
  auto r = verb.client->Request("POST", "/v1/transfers", json::serialize(body),
                                {{"idempotency-key", key}});
  if (!r.ok()) {
    return verb.Fail(r.status().message() + "; if the request reached the server, repeat with " +
                     "--key " + key + " and it is not started twice");
  }
  if (r->status == 409) {
    return verb.Fail("key '" + key + "' was already used for another transfer: " +
                     ApiErrorLine(r->status, r->body));
  }
  if (r->status != 200 && r->status != 201) return verb.FailHttp(*r);
  auto started = TransferOf(r->body);
  if (!started) return verb.Fail("unreadable answer");
  const std::string id = FieldText(*started, "id");
  if (!IsTransferId(id)) return verb.Fail("the server answered a transfer without a usable id");
  if (verb.json) {
    std::printf("%s\n", r->body.c_str());
  } else {
    // The answer to POST is the home's record; the receiver knows the plan and progress.
    json::value shown = *started;
    if (auto full = verb.client->Request("GET", "/v1/transfers/" + id);
        full.ok() && full->status == 200) {
      if (auto t = TransferOf(full->body)) shown = *t;
    }
    if (r->status == 200) std::printf("(already started with this key)\n");
    std::fputs(RenderTransfer(shown).c_str(), stdout);
  }
  if (!args.Has("wait")) return kExitOk;
  std::fflush(stdout);
  return WatchTransfer(verb.name, *verb.client, id, verb.interval_ms, verb.quiet || verb.json);
}

int List(int argc, char** argv) {
  Verb verb{"edwc transfer list"};
  Args args = MakeArgs(verb.name, {}, {});
  if (auto done = Prepare(argc, argv, &args, kListHelp, 0, &verb)) return *done;
  auto r = verb.client->Request("GET", "/v1/transfers");
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r);
  if (verb.json) {
    std::printf("%s\n", r->body.c_str());
    return kExitOk;
  }
  auto doc = core::ParseJsonObject(r->body);
  if (!doc.ok()) return verb.Fail("unreadable answer: " + doc.status().message());
  std::vector<std::vector<std::string>> rows;
  if (const json::value* list = doc->if_contains("transfers"); list && list->is_array()) {
    for (const json::value& t : list->as_array()) {
      std::string to = FieldText(t, "to");
      if (const json::value* relay = Member(t, "relay"); relay && relay->is_string()) {
        to += " (via " + std::string(relay->as_string()) + ")";
      }
      rows.push_back({FieldText(t, "id"), FieldText(t, "dataset"), FieldText(t, "from"), to,
                      FieldText(t, "state"), ProgressText(t),
                      CompactTime(FieldText(t, "created_at"))});
    }
  }
  if (rows.empty()) {
    std::printf("no transfers\n");
    return kExitOk;
  }
  std::fputs(
      RenderTable({"ID", "DATASET", "FROM", "TO", "STATE", "PROGRESS", "CREATED"}, rows).c_str(),
      stdout);
  return kExitOk;
}

// show, cancel and watch: one transfer id.
int OneTransfer(int argc, char** argv, const std::string& sub) {
  Verb verb{"edwc transfer " + sub};
  const bool watch = sub == "watch";
  Args args =
      watch ? MakeArgs(verb.name, {"interval"}, {"quiet"}, false) : MakeArgs(verb.name, {}, {});
  const char* help = sub == "show" ? kShowHelp : sub == "cancel" ? kCancelHelp : kWatchHelp;
  if (auto done = Prepare(argc, argv, &args, help, 1, &verb)) return *done;
  const std::string id = args.positional()[0];
  if (watch) return WatchTransfer(verb.name, *verb.client, id, verb.interval_ms, verb.quiet);
  auto r = verb.client->Request(sub == "show" ? "GET" : "DELETE", "/v1/transfers/" + id);
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r, "transfer '" + id + "'");
  if (verb.json) {
    std::printf("%s\n", r->body.c_str());
    return kExitOk;
  }
  if (sub == "cancel") {
    std::printf("transfer %s cancelled\n", id.c_str());
    return kExitOk;
  }
  auto t = TransferOf(r->body);
  if (!t) return verb.Fail("unreadable answer");
  std::fputs(RenderTransfer(*t).c_str(), stdout);
  return kExitOk;
}

}  // namespace

int WatchTransfer(const std::string& verb_name, ApiClient& client, const std::string& id,
                  int interval_ms, bool quiet) {
  const Verb verb{verb_name};
  core::SystemClock clock;
  ProgressBar bar("moved", StderrProgress(quiet), &clock);
  int failures = 0;
  bool first_poll = true;
  for (;;) {
    auto r = client.Request("GET", "/v1/transfers/" + id);
    if (!r.ok() || r->status >= 500) {
      // A gateway restart must not end a long watch.
      if (++failures >= 30) {
        bar.Finish(false);
        return verb.Fail(r.ok() ? ApiErrorLine(r->status, r->body) : r.status().message());
      }
    } else if (r->status != 200) {
      bar.Finish(false);
      return verb.FailHttp(*r, "transfer '" + id + "'");
    } else {
      failures = 0;
      auto t = TransferOf(r->body);
      if (!t) {
        bar.Finish(false);
        return verb.Fail("unreadable answer");
      }
      const std::string state = FieldText(*t, "state");
      if (first_poll && IsEnded(state)) bar.Finish(false);  // nothing moved while we watched
      first_poll = false;
      const int64_t eta = IntField(*t, "eta_ms", -1);
      bar.Update(std::max<int64_t>(0, IntField(*t, "bytes_done", 0)),
                 IntField(*t, "total_bytes", -1), NumberField(*t, "rate_bytes_per_s"),
                 eta >= 0 ? std::optional(std::chrono::milliseconds(eta)) : std::nullopt);
      if (IsEnded(state)) {
        bar.Finish(state == "done");
        if (state == "done") {
          std::printf("transfer %s done: %s at %s\n", id.c_str(), FieldText(*t, "name").c_str(),
                      FieldText(*t, "to").c_str());
          return kExitOk;
        }
        const json::value* e = Member(*t, "error");
        return verb.Fail("transfer " + id + " " + state +
                         (e != nullptr && e->is_string() && !e->as_string().empty()
                              ? ": " + std::string(e->as_string())
                              : std::string()));
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
}

int TransferCommand(int argc, char** argv) {
  const std::string sub = argc >= 3 ? argv[2] : "";
  if (sub == "start") return Start(argc, argv);
  if (sub == "list") return List(argc, argv);
  if (sub == "show" || sub == "cancel" || sub == "watch") return OneTransfer(argc, argv, sub);
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    std::fputs(
        "\nExample:\n  edwc transfer start --dataset corpus-2026 --from qingpu --to zhongwei "
        "--wait\n",
        stdout);
    return kExitOk;
  }
  return UnknownSubcommand("edwc transfer", sub, kUsage);
}

}  // namespace edwc::cli
