// `edwc job submit|list|show|cancel|watch|output`: place a job through the home center,
// follow it and fetch its output. Every failure is one line on stderr; --json prints the
// server's JSON as it came.
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
  edwc job submit (--model M | --min-tflops N --min-memory GIB) --duration D [flags] -- CMD...
  edwc job list [--state S] [--limit N] [--after CURSOR] [--all]
  edwc job show ID
  edwc job cancel ID
  edwc job watch ID [--interval 500ms]
  edwc job output ID [-o FILE] [--interval 500ms] [--quiet]
Each accepts --json, the connection flags and --help.
)";

constexpr char kListHelp[] =
    R"(Usage: edwc job list [--state S] [--limit N] [--after CURSOR] [--all] [--json]

Lists jobs as a table: ID NAME STATE CENTER MODEL×COUNT COST CREATED.
  --state S      only jobs in state S (placing, held, committed, running, succeeded,
                 failed, cancelled)
  --limit N      at most N per page (default: the server's)
  --after C      the page after cursor C (printed under a full page)
  --all          follow the cursor to the last page
  --json         print the JSON answer of GET /v1/jobs
Example:
  edwc job list --state running
)";

constexpr char kShowHelp[] = R"(Usage: edwc job show ID [--json]

Prints one job: state, center, request, placement attempts, state history and, once it
has ended, usage and cost.
  --json         print the JSON answer of GET /v1/jobs/ID
Example:
  edwc job show job_01JDZ6Q3W8N4V5T7X9Y2K3M4P5
)";

constexpr char kCancelHelp[] = R"(Usage: edwc job cancel ID [--json]

Cancels a job. A job not yet running is cancelled at once; a running one is asked to stop
and shows "cancel requested" until it has.
  --json         print the JSON answer of DELETE /v1/jobs/ID
Example:
  edwc job cancel job_01JDZ6Q3W8N4V5T7X9Y2K3M4P5
)";

constexpr char kWatchHelp[] = R"(Usage: edwc job watch ID [--interval 500ms] [--json]

Prints each state change of a job with its time until the job has ended.
  --interval I   how often to ask (default 500ms; 2s, 1m)
  --json         print the job's JSON (one line) each time it changes
Example:
  edwc job watch job_01JDZ6Q3W8N4V5T7X9Y2K3M4P5 --interval 2s
Exit status: 0 when the job succeeded, 1 when it failed or was cancelled.
)";

constexpr char kOutputHelp[] =
    R"(Usage: edwc job output ID [-o FILE] [--interval 500ms] [--quiet]

Downloads what a job left in $EDWC_OUTPUT_DIR (the dataset named in its "output"). When
the job ran elsewhere, the output is first copied home with a transfer (idempotency key
"output-ID", so repeating the command starts no second one), followed with a progress bar.
  -o, --output FILE  where to write (default: the output dataset's name here); - is stdout
  --interval I       how often to ask about the transfer (default 500ms)
  --quiet, -q        no progress bars
Example:
  edwc job output job_01JDZ6Q3W8N4V5T7X9Y2K3M4P5 -o result.tar
Exit status: 0 downloaded and verified, 1 no output, a failed transfer or a mismatch.
)";

bool IsJobId(std::string_view id) { return IsPlainId(id, 128); }

// Parses argv for subverb `sub` with its own valued options and flags, resolves the
// connection; returns an exit code when the verb ends here (help, usage error).
std::optional<int> Prepare(int argc, char** argv, Args* args, const char* help, size_t positional,
                           Verb* verb) {
  args->AllowPositional(positional);
  if (auto st = args->Parse(argc, argv, 3); !st.ok()) {
    // A stray word is most often a command given without the `--` before it.
    const bool stray = st.field().empty() && positional == 0 && args->allows_trailing();
    return verb->Usage(st.message() + (stray ? "; put the command after `--`" : ""));
  }
  return PrepareVerb(*args, help, positional, "job", 128, "broker", verb);
}

// GET /v1/jobs/{id} until the job has ended. Transient connection failures are retried
// for a while: a gateway restart must not end a long watch.
int Watch(const Verb& verb, const std::string& id) {
  size_t printed = 0;
  std::string last_state;
  std::string last_body;
  int failures = 0;
  for (;;) {
    auto r = verb.client->Request("GET", "/v1/jobs/" + id);
    if (!r.ok() || r->status >= 500) {
      if (++failures >= 30) {
        return verb.Fail(r.ok() ? ApiErrorLine(r->status, r->body) : r.status().message());
      }
    } else if (r->status != 200) {
      return verb.FailHttp(*r, "job '" + id + "'");
    } else {
      failures = 0;
      auto job = core::ParseJsonObject(r->body);
      if (!job.ok()) return verb.Fail("unreadable answer: " + job.status().message());
      const json::value value(std::move(*job));
      const std::string state = FieldText(value, "state");
      if (verb.json) {
        if (r->body != last_body) std::printf("%s\n", json::serialize(value).c_str());
        last_body = r->body;
      } else {
        for (const std::string& line : WatchLines(value, &printed, &last_state)) {
          std::printf("%s\n", line.c_str());
        }
      }
      std::fflush(stdout);
      if (IsTerminalState(state)) {
        if (!verb.json && state == "succeeded") {
          if (const json::value* u = value.as_object().if_contains("usage")) {
            std::printf("cost ¥%s, exit code %s\n", MoneyText(*u, "cost").c_str(),
                        FieldText(*u, "exit_code").c_str());
          }
        }
        return state == "succeeded" ? kExitOk : kExitFailure;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(verb.interval_ms));
  }
}

int Submit(int argc, char** argv) {
  Verb verb{"edwc job submit", nullptr};
  std::set<std::string> valued = RequestOptions();
  valued.merge(SubmitOptions());
  valued.insert("interval");
  Args args = MakeArgs(verb.name, std::move(valued), {"wait"});
  args.AllowTrailing();
  const std::string help =
      "Usage: edwc job submit (--model M | --min-tflops N --min-memory GIB) --duration D\n"
      "                       [flags] -- COMMAND [ARG]...\n\n"
      "Places a job: the home center quotes the request, holds devices at the best center\n"
      "(trying the next when one refuses) and starts COMMAND there. Prints where it went\n"
      "and why earlier centers refused.\n\n" +
      RequestFlagsHelp() +
      "The job:\n"
      "  --name NAME            a label for `edwc job list`\n"
      "  --env K=V              an environment variable for COMMAND (repeatable)\n"
      "  --input DATASET@CENTER a dataset the job reads (repeatable; all at one center):\n"
      "                         fetched to where it runs, found under $EDWC_INPUT_DIR;\n"
      "                         what it writes to $EDWC_OUTPUT_DIR comes back with\n"
      "                         `edwc job output`\n"
      "  --idempotency-key K    resubmitting with the same K never places a second job\n"
      "                         (default: a random key, printed if the answer is lost)\n"
      "  --wait                 then follow the job like `edwc job watch` until it ends\n"
      "  --interval I           with --wait: how often to ask (default 500ms)\n"
      "  --json                 print the job's JSON\n"
      "Example:\n"
      "  edwc job submit --model h800 --count 4 --duration 1h --name llm-ft \\\n"
      "      --env EPOCHS=3 --wait -- python train.py --lr 3e-4\n\n"
      "Exit status: 0 placed (with --wait: succeeded), 1 not placed, failed or cancelled,\n"
      "2 bad usage.\n";
  if (auto done = Prepare(argc, argv, &args, help.c_str(), 0, &verb)) return *done;
  auto body = BuildJobRequest(args, core::SystemClock().Now());
  if (!body.ok()) return verb.Usage(body.status().message());
  const std::string key = args.Get("idempotency-key").value_or(NewIdempotencyKey());
  if (key.empty() || key.size() > 128) return verb.Usage("--idempotency-key: 1 to 128 chars");
  auto r =
      verb.client->Request("POST", "/v1/jobs", json::serialize(*body), {{"idempotency-key", key}});
  if (!r.ok()) {
    return verb.Fail(r.status().message() + "; if the request reached the server, repeat " +
                     "with --idempotency-key " + key + " and it is not placed twice");
  }
  if (r->status != 200 && r->status != 201) {
    if (r->status == 409) {
      return verb.Fail("idempotency key '" + key + "' was already used for another request: " +
                       ApiErrorLine(r->status, r->body));
    }
    return verb.FailHttp(*r);
  }
  auto job = core::ParseJsonObject(r->body);
  if (!job.ok()) return verb.Fail("unreadable answer: " + job.status().message());
  const json::value value(std::move(*job));
  const std::string state = FieldText(value, "state");
  if (verb.json && !args.Has("wait")) {
    std::printf("%s\n", r->body.c_str());
  } else if (!verb.json) {
    std::fputs(RenderSubmitted(value, r->status == 200).c_str(), stdout);
  }
  if (state == "failed" || state == "cancelled") return kExitFailure;
  if (!args.Has("wait")) return kExitOk;
  const std::string id = FieldText(value, "id");
  if (!IsJobId(id)) return verb.Fail("the server answered a job without a usable id");
  std::fflush(stdout);
  return Watch(verb, id);
}

int List(int argc, char** argv) {
  Verb verb{"edwc job list", nullptr};
  Args args = MakeArgs(verb.name, {"state", "limit", "after"}, {"all"});
  if (auto done = Prepare(argc, argv, &args, kListHelp, 0, &verb)) return *done;
  auto limit = args.GetInt("limit", 0, 1, 1000);
  if (!limit.ok()) return verb.Usage(limit.status().message());
  std::optional<std::string> after = args.Get("after");
  json::array all;
  for (;;) {
    std::string target = "/v1/jobs";
    char sep = '?';
    auto add = [&](const char* key, const std::string& value) {
      target += sep + std::string(key) + "=" + QueryEscape(value);
      sep = '&';
    };
    if (auto state = args.Get("state")) add("state", *state);
    if (*limit > 0) add("limit", std::to_string(*limit));
    if (after) add("after", *after);
    auto r = verb.client->Request("GET", target);
    if (!r.ok()) return verb.Fail(r.status().message());
    if (r->status != 200) return verb.FailHttp(*r);
    auto page = core::ParseJsonObject(r->body);
    if (!page.ok()) return verb.Fail("unreadable answer: " + page.status().message());
    const json::value* next = page->if_contains("next");
    const bool more = next != nullptr && next->is_string() && !next->as_string().empty();
    if (!args.Has("all")) {
      if (verb.json) {
        std::printf("%s\n", r->body.c_str());
      } else {
        std::fputs(RenderJobList(json::value(*page)).c_str(), stdout);
        if (more) {
          std::printf("(more: edwc job list --after %s)\n", std::string(next->as_string()).c_str());
        }
      }
      return kExitOk;
    }
    if (const json::value* jobs = page->if_contains("jobs"); jobs && jobs->is_array()) {
      for (const json::value& j : jobs->as_array()) all.push_back(j);
    }
    if (!more) break;
    after = std::string(next->as_string());
  }
  const json::value merged(json::object{{"jobs", std::move(all)}, {"next", nullptr}});
  if (verb.json) {
    std::printf("%s\n", json::serialize(merged).c_str());
  } else {
    std::fputs(RenderJobList(merged).c_str(), stdout);
  }
  return kExitOk;
}

// show, cancel and watch: one job id.
int OneJob(int argc, char** argv, const std::string& sub) {
  Verb verb{"edwc job " + sub, nullptr};
  const bool watch = sub == "watch";
  Args args =
      MakeArgs(verb.name, watch ? std::set<std::string>{"interval"} : std::set<std::string>{}, {});
  const char* help = sub == "show" ? kShowHelp : sub == "cancel" ? kCancelHelp : kWatchHelp;
  if (auto done = Prepare(argc, argv, &args, help, 1, &verb)) return *done;
  const std::string id = args.positional()[0];
  if (watch) return Watch(verb, id);
  auto r = verb.client->Request(sub == "show" ? "GET" : "DELETE", "/v1/jobs/" + id);
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r, "job '" + id + "'");
  if (verb.json) {
    std::printf("%s\n", r->body.c_str());
    return kExitOk;
  }
  auto job = core::ParseJson(r->body);
  if (!job.ok()) return verb.Fail("unreadable answer: " + job.status().message());
  std::fputs((sub == "show" ? RenderJob(*job) : RenderCancelled(*job)).c_str(), stdout);
  return kExitOk;
}

// The id of the center answering: the entry of GET /v1/centers with "self": true.
core::Result<std::string> HomeCenter(ApiClient& client) {
  auto r = client.Request("GET", "/v1/centers");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return core::Status(core::Code::kUnavailable, ApiErrorLine(r->status, r->body));
  }
  auto doc = core::ParseJsonObject(r->body);
  if (doc.ok()) {
    if (const json::value* centers = doc->if_contains("centers"); centers && centers->is_array()) {
      for (const json::value& c : centers->as_array()) {
        const json::value* self = c.is_object() ? c.as_object().if_contains("self") : nullptr;
        if (self != nullptr && self->is_bool() && self->as_bool()) return FieldText(c, "id");
      }
    }
  }
  return core::Status(core::Code::kUnavailable, "the home center is not in its own view");
}

int Output(int argc, char** argv) {
  Verb verb{"edwc job output", nullptr};
  // Spell the short forms out for Args.
  std::vector<std::string> words(argv, argv + argc);
  for (std::string& w : words) w = w == "-o" ? "--output" : w == "-q" ? "--quiet" : w;
  std::vector<char*> long_argv;
  for (std::string& w : words) long_argv.push_back(w.data());
  Args args = MakeArgs(verb.name, {"output", "interval"}, {"quiet"});
  if (auto done = Prepare(argc, long_argv.data(), &args, kOutputHelp, 1, &verb)) return *done;
  if (verb.json) return verb.Usage("--json does not apply: the output is bytes");
  const std::string id = args.positional()[0];
  const bool quiet = args.Has("quiet");
  auto r = verb.client->Request("GET", "/v1/jobs/" + id);
  if (!r.ok()) return verb.Fail(r.status().message());
  if (r->status != 200) return verb.FailHttp(*r, "job '" + id + "'");
  auto job = core::ParseJson(r->body);
  if (!job.ok() || !job->is_object()) return verb.Fail("unreadable answer");
  const json::value* output = job->as_object().if_contains("output");
  if (output == nullptr || !output->is_object()) {
    const std::string state = FieldText(*job, "state");
    if (!IsTerminalState(state)) return verb.Fail("job " + id + " is " + state + "; no output yet");
    return verb.Fail("job " + id + " left no output");
  }
  const std::string dataset = FieldText(*output, "dataset");
  const std::string center = FieldText(*output, "center");
  // The name becomes the default file name: it must not be a path.
  if (!core::ValidDatasetName(dataset) || center == "-") {
    return verb.Fail("the server named no usable output dataset for job " + id);
  }
  auto home = HomeCenter(*verb.client);
  if (!home.ok()) return verb.Fail("cannot tell the home center: " + home.status().message());
  if (center != *home) {
    const json::object body{{"dataset", dataset}, {"from", center}, {"to", *home}};
    auto t = verb.client->Request("POST", "/v1/transfers", json::serialize(body),
                                  {{"idempotency-key", "output-" + id}});
    if (!t.ok()) return verb.Fail(t.status().message());
    if (t->status != 200 && t->status != 201) return verb.FailHttp(*t);
    auto doc = core::ParseJsonObject(t->body);
    const json::value* transfer = doc.ok() ? doc->if_contains("transfer") : nullptr;
    if (transfer == nullptr) return verb.Fail("unreadable answer to POST /v1/transfers");
    const std::string transfer_id = FieldText(*transfer, "id");
    if (!quiet) {
      const json::value* size = output->as_object().if_contains("size");
      std::fprintf(stderr, "moving %s (%s) from %s to %s: transfer %s\n", dataset.c_str(),
                   HumanBytes(size && size->is_int64() ? size->as_int64() : -1).c_str(),
                   center.c_str(), home->c_str(), transfer_id.c_str());
    }
    const int moved = WatchTransfer(verb.name, *verb.client, transfer_id, verb.interval_ms, quiet);
    if (moved != kExitOk) return moved;
  }
  auto connection = ResolveConnection(args, "broker");
  if (!connection.ok()) return verb.Usage(connection.status().message());
  return DownloadDataset(verb.name, *connection, dataset, args.Get("output").value_or(dataset), "",
                         quiet);
}

}  // namespace

int JobCommand(int argc, char** argv) {
  const std::string sub = argc >= 3 ? argv[2] : "";
  if (sub == "submit") return Submit(argc, argv);
  if (sub == "list") return List(argc, argv);
  if (sub == "show" || sub == "cancel" || sub == "watch") return OneJob(argc, argv, sub);
  if (sub == "output") return Output(argc, argv);
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    std::fputs(
        "\nExample:\n  edwc job submit --model h800 --count 4 --duration 1h -- python "
        "train.py\n  edwc job watch job_01j...\n",
        stdout);
    return kExitOk;
  }
  return UnknownSubcommand("edwc job", sub, kUsage);
}

}  // namespace edwc::cli
