// `edwc demo`: a whole federation on one machine in a minute. Writes a dev CA, one
// directory per center (certificate, complete center.yaml, data) and demo.json, the
// contract through which users' scripts and later tests drive the demo; then runs each
// center as its own `edwc agent` process until Ctrl-C.
//
// Layout of --dir D:
//   D/demo.json                       centers, URLs, CA file, one token per role (0600)
//   D/ca/ca.pem, D/ca/ca.key          the dev federation CA
//   D/centers/<id>/center.yaml        the center's configuration
//   D/centers/<id>/certs/             center.pem, chain.pem, center.key, ca.pem
//   D/centers/<id>/data/              its RocksDB
//   D/centers/<id>/jobs/<hold id>/    each job it ran: stdout.log, stderr.log
//   D/centers/<id>/agent.log          its log (stderr)
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/demo_centers.h"
#include "cli/demo_workload.h"
#include "cli/process.h"
#include "config/load.h"
#include "core/json.h"
#include "gateway/certs.h"
#include "gateway/http_client.h"

namespace edwc::cli {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr char kHelp[] = R"(Usage: edwc demo [options]

Starts a local East-Data-West-Computing federation: every center is its own
`edwc agent` process with its own certificate, configuration and RocksDB.

  --centers N      how many centers, 1-13 (default 4: Zhongwei, Qingpu, Gui'an, Shaoguan)
  --base-port P    center i listens on P+2i (api) and P+2i+1 (peer); default 7400;
                   0 picks free ports
  --dir D          where to write everything (default ./edwc-demo)
  --prepare-only   write the CA, certificates, configs and demo.json, start nothing
  --workload W     `sample` (default): a broker at the eastern center quotes and
                   submits a mix of jobs and the demo prints where each went, how it
                   ended and, once the centers have settled the work between them, what
                   each is owed and owes; `none`: start the federation only
  --fresh          delete D first (only if it holds a previous demo)

D/demo.json lists every center's id, api and peer URL, config and log path, the CA
file and one bearer token per role (viewer, broker, finance, operator); scripts and
tests drive the demo through it. Ctrl-C stops every center gracefully.

Example:
  edwc demo --centers 4 --dir /tmp/fed --fresh
)";

constexpr const char* kRoles[] = {"viewer", "broker", "finance", "operator"};

struct Plan {
  const DemoCenter* center;
  uint16_t api_port;
  uint16_t peer_port;
  fs::path dir;
  fs::path config;
  fs::path log;
  std::string api_url;
  std::string peer_url;
  pid_t pid = 0;
};

core::Status WriteFileAtomic(const fs::path& path, std::string_view content, mode_t mode) {
  const fs::path tmp = path.string() + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return core::IoError("open " + tmp.string() + ": " + strerror(errno));
  fchmod(fd, mode);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return core::IoError("write " + tmp.string() + ": " + strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return core::IoError("sync " + tmp.string() + ": " + strerror(errno));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return core::IoError("rename " + tmp.string() + ": " + strerror(errno));
  }
  return core::Status::Ok();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Tokens survive re-runs of the demo in the same directory, so scripts keep working.
std::map<std::string, std::string> LoadOrMakeTokens(const fs::path& demo_json) {
  std::map<std::string, std::string> tokens;
  if (fs::exists(demo_json)) {
    auto doc = core::ParseJsonObject(ReadFile(demo_json));
    if (doc.ok()) {
      if (const json::value* t = doc->if_contains("tokens"); t && t->is_object()) {
        for (const char* role : kRoles) {
          if (const json::value* v = t->as_object().if_contains(role); v && v->is_string()) {
            tokens[role] = std::string(v->as_string());
          }
        }
      }
    }
  }
  for (const char* role : kRoles) {
    if (tokens[role].empty()) tokens[role] = gateway::RandomToken();
  }
  return tokens;
}

// Free ports for --base-port 0: all probe sockets stay open until every port is chosen,
// so the ports are distinct; the agents bind them a moment later.
core::Result<std::vector<uint16_t>> FreePorts(int n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  core::Status error;
  for (int i = 0; i < n && error.ok(); ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      error = core::IoError(std::string("finding a free port: ") + strerror(errno));
    } else {
      ports.push_back(ntohs(addr.sin_port));
    }
    if (fd >= 0) fds.push_back(fd);
  }
  for (int fd : fds) close(fd);
  if (!error.ok()) return error;
  return ports;
}

config::CenterConfig CenterConfigFor(const Plan& p, const fs::path& certs,
                                     const std::map<std::string, std::string>& tokens,
                                     std::string seed_url) {
  const DemoCenter& d = *p.center;
  config::CenterConfig c;
  c.center = {d.id, d.name, d.hub, d.city, d.zone, {d.lat, d.lon}};
  c.api = {"127.0.0.1", p.api_port};
  c.peer = {"127.0.0.1", p.peer_port};
  c.tls = {(certs / "ca.pem").string(), (certs / "chain.pem").string(),
           (certs / "center.key").string()};
  c.storage.path = (p.dir / "data").string();
  c.jobs.work_dir = (p.dir / "jobs").string();  // each job's directory, with its output
  c.server.io_threads = 1;                      // thirteen demo centers share two cores
  for (const DemoModel& m : d.models) {
    c.capacity.inventory.push_back({m.model, m.count});
    core::PriceSchedule schedule{core::Money::Fen(m.day_fen),
                                 {{22 * 60, 6 * 60, core::Money::Fen(m.night_fen)}}};
    c.pricing.models.push_back({m.model, schedule});
  }
  c.pricing.egress_per_gb = core::Money::Fen(d.egress_per_gb_fen);
  // Every center joins through one seed; the rest it learns from adverts.
  if (!seed_url.empty()) c.federation.seeds.push_back(std::move(seed_url));
  c.center.green_share_permille = d.green_share_permille;
  c.center.pue_milli = d.pue_milli;
  for (const char* role : kRoles) {
    config::Role r = role == std::string_view("viewer")    ? config::Role::kViewer
                     : role == std::string_view("broker")  ? config::Role::kBroker
                     : role == std::string_view("finance") ? config::Role::kFinance
                                                           : config::Role::kOperator;
    c.tokens.push_back({std::string("demo-") + role, r, gateway::Sha256Hex(tokens.at(role))});
  }
  return c;
}

std::vector<WorkloadCenter> WorkloadCenters(const std::vector<Plan>& plans) {
  std::vector<WorkloadCenter> out;
  for (const Plan& p : plans) out.push_back({p.center->id, p.center->zone, p.api_url});
  return out;
}

// demo.json's summary of the sample workload's settlements.
json::object SettlementsJson(const SettlementSummary& s) {
  json::array payments;
  for (const NetPayment& p : s.payments) {
    payments.push_back({{"from", p.from}, {"to", p.to}, {"amount_fen", p.amount_fen}});
  }
  return {{"count", s.count},
          {"sum_of_nets_fen", s.sum_of_nets_fen},
          {"payments", std::move(payments)},
          {"verified", s.verified},
          {"exchanged", s.exchanged}};
}

// `settlements`: SettlementsJson once the sample workload has been settled; no member when
// null.
std::string DemoJson(const fs::path& dir, const std::vector<Plan>& plans,
                     const std::map<std::string, std::string>& tokens, bool running,
                     const json::object* settlements = nullptr) {
  const size_t home = HomeCenterIndex(WorkloadCenters(plans));
  json::object t;
  for (const auto& [role, token] : tokens) t[role] = token;
  json::array centers;
  for (const Plan& p : plans) {
    json::object c{{"id", p.center->id},     {"name", p.center->name},      {"hub", p.center->hub},
                   {"city", p.center->city}, {"zone", p.center->zone},      {"api_url", p.api_url},
                   {"peer_url", p.peer_url}, {"config", p.config.string()}, {"dir", p.dir.string()},
                   {"log", p.log.string()}};
    if (running) c["pid"] = p.pid;
    // The sample broker's gateway; CLI verbs with --demo talk to it.
    if (&p == &plans[home]) c["home"] = true;
    centers.push_back(std::move(c));
  }
  json::object doc{{"version", 1},
                   {"dir", dir.string()},
                   {"ca_file", (dir / "ca" / "ca.pem").string()},
                   {"running", running},
                   {"tokens", std::move(t)},
                   {"centers", std::move(centers)},
                   {"home_center", plans[home].center->id}};
  if (running) doc["demo_pid"] = getpid();
  if (settlements != nullptr) doc["settlements"] = *settlements;
  return json::serialize(doc) + "\n";
}

// GET /v1/centers from `api_url`; the parsed body or an error.
core::Result<json::object> FetchView(const std::string& api_url, const fs::path& ca,
                                     const std::string& viewer) {
  EDWC_ASSIGN_OR_RETURN(
      auto client,
      gateway::HttpsClient::Create(api_url, {ca.string(), "", "", false}, std::chrono::seconds(5)));
  EDWC_ASSIGN_OR_RETURN(
      auto r, client->Request("GET", "/v1/centers", "", {{"authorization", "Bearer " + viewer}}));
  if (r.status != 200) {
    return core::Status(core::Code::kUnavailable, "HTTP " + std::to_string(r.status));
  }
  return core::ParseJsonObject(r.body);
}

// Waits until every center's view lists all centers alive; returns how long it took.
core::Result<std::chrono::milliseconds> AwaitConvergence(const std::vector<Plan>& plans,
                                                         const fs::path& ca,
                                                         const std::string& viewer,
                                                         std::chrono::seconds within) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + within;
  std::string missing;
  for (;;) {
    missing.clear();
    for (const Plan& p : plans) {
      auto view = FetchView(p.api_url, ca, viewer);
      size_t alive = 0;
      if (view.ok()) {
        for (const auto& c : view->at("centers").as_array()) {
          if (c.at("liveness").as_string() == "alive") ++alive;
        }
      }
      if (alive < plans.size()) {
        missing += std::string(missing.empty() ? "" : ", ") + p.center->id + " sees " +
                   std::to_string(alive) + "/" + std::to_string(plans.size());
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (missing.empty()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
    }
    if (now >= deadline) {
      return core::Status(core::Code::kUnavailable, "federation did not converge: " + missing);
    }
    // Polling the API the way a user would; gossip rounds are 200 ms.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The federation as the first center sees it: what a viewer sees first.
void PrintFederation(const std::vector<Plan>& plans, const fs::path& ca,
                     const std::string& viewer) {
  auto view = FetchView(plans[0].api_url, ca, viewer);
  if (!view.ok()) {
    std::printf("  (cannot read the view of %s: %s)\n", plans[0].center->id,
                view.status().ToString().c_str());
    return;
  }
  std::printf("\nThe federation as %s sees it (GET %s/v1/centers):\n\n", plans[0].center->id,
              plans[0].api_url.c_str());
  std::printf("  %-12s %-18s %-18s %-8s %8s  %s\n", "CENTER", "HUB", "CITY", "LIVENESS", "PFLOPS",
              "ACCELERATORS (free/total @ price now per device-hour)");
  for (const auto& c : view->at("centers").as_array()) {
    std::string summary;
    for (const auto& a : c.at("accelerators").as_array()) {
      const auto& o = a.as_object();
      if (!summary.empty()) summary += ", ";
      summary += std::string(o.at("model").as_string()) + " " +
                 std::to_string(o.at("free").to_number<int64_t>()) + "/" +
                 std::to_string(o.at("total").to_number<int64_t>()) + " @ ¥" +
                 std::string(o.at("price_now_per_device_hour_cny").as_string());
    }
    std::printf("  %-12s %-18s %-18s %-8s %8s  %s\n", std::string(c.at("id").as_string()).c_str(),
                std::string(c.at("hub").as_string()).c_str(),
                std::string(c.at("city").as_string()).c_str(),
                std::string(c.at("liveness").as_string()).c_str(),
                std::string(c.at("free_fp16_dense_pflops").as_string()).c_str(), summary.c_str());
  }
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "edwc demo: %s\n", message.c_str());
  return kExitFailure;
}

void PrintLogTail(const fs::path& log) {
  std::string text = ReadFile(log);
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  std::fprintf(stderr, "---- %s ----\n%s----\n", log.c_str(), text.c_str());
}

}  // namespace

int DemoCommand(int argc, char** argv) {
  Args args("edwc demo", {"centers", "base-port", "dir", "workload"},
            {"prepare-only", "fresh", "help"});
  if (auto st = args.Parse(argc, argv, 2); !st.ok()) {
    std::fprintf(stderr, "edwc demo: %s\n", st.message().c_str());
    return kExitUsage;
  }
  if (args.Has("help")) return std::fputs(kHelp, stdout), kExitOk;
  const int max_centers = static_cast<int>(DemoCenters().size());
  auto n = args.GetInt("centers", 4, 1, max_centers);
  auto base = args.GetInt("base-port", 7400, 0, 65535);
  const std::string workload = args.Get("workload").value_or("sample");
  for (const auto* r : {&n, &base}) {
    if (!r->ok()) {
      std::fprintf(stderr, "edwc demo: %s\n", r->status().message().c_str());
      return kExitUsage;
    }
  }
  if (workload != "sample" && workload != "none") {
    std::fprintf(stderr, "edwc demo: --workload must be 'sample' or 'none', got '%s'\n",
                 workload.c_str());
    return kExitUsage;
  }
  if (*base != 0 && *base + 2 * *n - 1 > 65535) {
    std::fprintf(stderr, "edwc demo: --base-port %ld leaves no room for %ld centers\n", *base, *n);
    return kExitUsage;
  }

  std::error_code ec;
  const fs::path dir = fs::absolute(args.Get("dir").value_or("edwc-demo")).lexically_normal();
  const fs::path demo_json = dir / "demo.json";
  if (args.Has("fresh") && fs::exists(dir)) {
    if (!fs::exists(demo_json) && !fs::is_empty(dir, ec)) {
      return Fail(dir.string() + " is not empty and holds no demo.json; not deleting it");
    }
    fs::remove_all(dir, ec);
    if (ec) return Fail("removing " + dir.string() + ": " + ec.message());
  }
  fs::create_directories(dir / "centers", ec);
  if (ec) return Fail("creating " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);

  const fs::path ca_dir = dir / "ca";
  if (!fs::exists(ca_dir / "ca.pem")) {
    if (auto st = gateway::InitDevCa(ca_dir.string()); !st.ok()) {
      return Fail("creating the CA: " + st.ToString());
    }
  }
  const auto tokens = LoadOrMakeTokens(demo_json);

  std::vector<uint16_t> ports;
  if (*base == 0) {
    auto free_ports = FreePorts(2 * static_cast<int>(*n));
    if (!free_ports.ok()) return Fail(free_ports.status().ToString());
    ports = std::move(free_ports).value();
  } else {
    for (int i = 0; i < 2 * *n; ++i) ports.push_back(static_cast<uint16_t>(*base + i));
  }

  std::vector<Plan> plans;
  for (int i = 0; i < *n; ++i) {
    Plan p;
    p.center = &DemoCenters()[static_cast<size_t>(i)];
    p.api_port = ports[static_cast<size_t>(2 * i)];
    p.peer_port = ports[static_cast<size_t>(2 * i + 1)];
    p.dir = dir / "centers" / p.center->id;
    p.config = p.dir / "center.yaml";
    p.log = p.dir / "agent.log";
    p.api_url = "https://127.0.0.1:" + std::to_string(p.api_port);
    p.peer_url = "https://127.0.0.1:" + std::to_string(p.peer_port);
    const fs::path certs = p.dir / "certs";
    fs::create_directories(p.dir / "data", ec);
    if (ec) return Fail("creating " + p.dir.string() + ": " + ec.message());
    // Reissued every run: cheap, and always signed by the CA beside it.
    if (auto st = gateway::IssueCenterCert(ca_dir.string(), p.center->id, certs.string());
        !st.ok()) {
      return Fail("issuing the certificate of " + std::string(p.center->id) + ": " + st.ToString());
    }
    // Center 0 joins through center 1; every other center through center 0.
    const int seed = i == 0 ? (*n > 1 ? 1 : -1) : 0;
    const std::string seed_url =
        seed < 0 ? std::string()
                 : "https://127.0.0.1:" + std::to_string(ports[static_cast<size_t>(2 * seed + 1)]);
    const std::string yaml =
        config::RenderCenterConfig(CenterConfigFor(p, certs, tokens, seed_url));
    if (auto st = WriteFileAtomic(p.config, yaml, 0644); !st.ok()) return Fail(st.ToString());
    plans.push_back(std::move(p));
  }
  if (auto st = WriteFileAtomic(demo_json, DemoJson(dir, plans, tokens, false), 0600); !st.ok()) {
    return Fail(st.ToString());
  }

  if (args.Has("prepare-only")) {
    std::printf("edwc demo: prepared %zu centers in %s\n", plans.size(), dir.c_str());
    std::printf("  demo.json: %s\n", demo_json.c_str());
    for (const Plan& p : plans) {
      std::printf("  %-12s edwc agent --config %s\n", p.center->id, p.config.c_str());
    }
    return kExitOk;
  }

  // Signals are taken synchronously (sigwait) by this thread only; children unblock them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  std::vector<Child> children;
  const std::string exe = SelfExe();
  for (Plan& p : plans) {
    auto child = Spawn({exe, "agent", "--config", p.config.string()}, p.log.string());
    if (!child.ok()) {
      StopChildren(children, std::chrono::seconds(10));
      return Fail(child.status().ToString());
    }
    p.pid = child->pid;
    children.push_back(std::move(child).value());
  }
  std::vector<std::string> lines;
  AwaitFirstLines(children, std::chrono::steady_clock::now() + std::chrono::seconds(60), lines);
  bool all_ready = true;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (lines[i].rfind("ready ", 0) != 0) {
      all_ready = false;
      std::fprintf(stderr, "edwc demo: center %s did not start; its log:\n", plans[i].center->id);
      PrintLogTail(plans[i].log);
    } else if (auto at = lines[i].find(" api="); at != std::string::npos) {
      plans[i].api_url = lines[i].substr(at + 5, lines[i].find(' ', at + 5) - at - 5);
    }
  }
  if (!all_ready) {
    StopChildren(children, std::chrono::seconds(10));
    return Fail(
        "not every center started; see the logs above (a port in use? another demo "
        "may be running: stop it, or pass --base-port 0 to pick free ports)");
  }
  if (auto st = WriteFileAtomic(demo_json, DemoJson(dir, plans, tokens, true), 0600); !st.ok()) {
    StopChildren(children, std::chrono::seconds(10));
    return Fail(st.ToString());
  }

  std::printf("edwc demo: %zu centers running, each its own gateway process (dir %s)\n",
              plans.size(), dir.c_str());
  auto converged =
      AwaitConvergence(plans, ca_dir / "ca.pem", tokens.at("viewer"), std::chrono::seconds(30));
  if (converged.ok()) {
    std::printf("Federation converged: every center sees all %zu alive after %lld ms.\n",
                plans.size(), static_cast<long long>(converged->count()));
  } else {
    std::printf("Warning: %s\n", converged.status().message().c_str());
  }
  PrintFederation(plans, ca_dir / "ca.pem", tokens.at("viewer"));
  std::printf(
      "\nTry it:\n  curl --cacert %s/ca/ca.pem -H 'Authorization: Bearer %s' %s/v1/centers\n",
      dir.c_str(), tokens.at("viewer").c_str(), plans[0].api_url.c_str());
  std::printf(
      "  curl --cacert %s/ca/ca.pem -H 'Authorization: Bearer %s' -d "
      "'{\"model\":\"%s\",\"count\":8,\"duration_minutes\":120}' %s/v1/quotes\n",
      dir.c_str(), tokens.at("broker").c_str(), plans[0].center->models[0].model,
      plans[0].api_url.c_str());
  std::printf("  edwc centers --demo %s        # the federation view as a table\n", dir.c_str());
  std::printf("Tokens for every role, URLs and paths: %s\n", demo_json.c_str());
  std::printf("Logs: %s/centers/<id>/agent.log   Metrics: <api>/metrics\n", dir.c_str());
  std::optional<json::object> settlements;
  if (workload == "sample") {
    const auto centers = WorkloadCenters(plans);
    const size_t home = HomeCenterIndex(centers);
    const WorkloadResult w = RunSampleWorkload(centers[home], (ca_dir / "ca.pem").string(),
                                               tokens.at("broker"), std::chrono::seconds(60));
    std::printf(
        "\n%d jobs submitted: %d succeeded, %d failed, %d still running.\n"
        "  edwc job list --demo %s      # the broker's jobs\n",
        w.submitted, w.succeeded, w.failed, w.unfinished, dir.c_str());
    settlements = SettlementsJson(ShowSettlements(centers, home, (ca_dir / "ca.pem").string(),
                                                  tokens.at("finance"), w, dir.string(),
                                                  std::chrono::seconds(20)));
    if (auto st =
            WriteFileAtomic(demo_json, DemoJson(dir, plans, tokens, true, &*settlements), 0600);
        !st.ok()) {
      std::printf("Warning: %s\n", st.ToString().c_str());
    }
  }
  std::printf("Dashboard: %s/ui/ (sign in with a token from demo.json)\n",
              plans[HomeCenterIndex(WorkloadCenters(plans))].api_url.c_str());
  std::printf("edwc demo: running %zu centers; press Ctrl-C to stop\n", plans.size());
  std::fflush(stdout);

  size_t alive = children.size();
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGINT || sig == SIGTERM) break;
    // SIGCHLD: a center exited on its own; say which, keep the rest running.
    for (size_t i = 0; i < children.size(); ++i) {
      int status = 0;
      if (children[i].pid > 0 && waitpid(children[i].pid, &status, WNOHANG) == children[i].pid) {
        children[i].pid = -1;
        --alive;
        std::fprintf(stderr, "edwc demo: center %s exited (%s %d); log: %s\n", plans[i].center->id,
                     WIFEXITED(status) ? "status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                     plans[i].log.c_str());
      }
    }
    if (alive == 0) {
      (void)WriteFileAtomic(
          demo_json, DemoJson(dir, plans, tokens, false, settlements ? &*settlements : nullptr),
          0600);
      return Fail("every center has exited");
    }
  }
  std::printf("\nedwc demo: stopping %zu centers...\n", alive);
  std::fflush(stdout);
  const int killed = StopChildren(children, std::chrono::seconds(15));
  (void)WriteFileAtomic(
      demo_json, DemoJson(dir, plans, tokens, false, settlements ? &*settlements : nullptr), 0600);
  if (killed > 0) return Fail(std::to_string(killed) + " centers had to be killed");
  std::printf("edwc demo: stopped\n");
  return kExitOk;
}

}  // namespace edwc::cli
