// How fast a change spreads through a federation of real agents on loopback, and what
// the federation costs at rest.
//
//   federation_bench --edwc build/release/cli/edwc --centers 8 [--idle-seconds 10]
//                    [--jobs 2000 --brokers 32 [--jobs-dir DIR] [--job-command PATH]]
//                    [--anchor-rounds 5]
//
// Starts N `edwc agent` processes (each its own CA-signed certificate, one I/O thread,
// default gossip settings, all joining through center 0), waits until every center sees
// every other alive, then:
//  - at rest: measures loopback bytes sent (/sys/class/net/lo/statistics/tx_bytes, so TLS,
//    TCP and IP overhead included) over --idle-seconds and divides by N;
//  - a price change: rewrites center 0's config with a new h800 price (the agent applies
//    it without a restart); t0 is when center 0's own view shows it, and the result is
//    the time until every center's view shows it.
//  - with --jobs N: --brokers threads submit N jobs (1 h800 each, every center
//    a home in turn; Idempotency-Key per job) and the figure is jobs held and committed
//    per second: N over the time from the first submission until every job's home says
//    it is committed or beyond (the hold, the commit and both sides' durable writes done).
//    --jobs-dir puts the centers' job directories (jobs.work_dir) under DIR, e.g. a tmpfs
//    as compute nodes use for scratch; RocksDB stays in the temporary directory.
//    --job-command runs PATH instead of `true` (bench/noop_job: a static binary that
//    exits at once, so that the figure is the gateways' work and not the dynamic loader's).
// Each figure comes with a same-run anchor, measured by this program in the same run:
//  - price change: the time one client takes to tell every other center directly, one
//    after another: per center a fresh mTLS connection to its peer listener (as center 0,
//    with its certificate) and one gossip push of center 0's signed advert, answered by an
//    ack (median of --anchor-rounds; the same over kept-alive connections is printed too);
//  - at rest: the floor every center must receive to keep every advert alive: the signed
//    adverts' size (their JSON, as gossip sends them, from a digest exchange) times N,
//    once per refresh interval (federation.gossip.refresh, 20 s);
//  - jobs: the same number of processes of the same command started by the same number of
//    threads with no gateway: per process a directory with output/, stdout.log and
//    stderr.log opened in it, posix_spawn (own session, fresh signal mask, the logs as
//    stdout and stderr, the directory as working directory, no other descriptor, as
//    executor/process_executor.cc does) and waitpid. Run before the jobs, the agents idle.
// Prints one line per figure, and a machine-readable `RESULT bench=federation ...` line
// (and `RESULT bench=jobs ...` with --jobs) of key=value pairs. Nothing else should use
// loopback meanwhile.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/process.h"
#include "config/load.h"
#include "core/fd.h"
#include "core/json.h"
#include "executor/process_executor.h"
#include "gateway/certs.h"
#include "gateway/http_client.h"

extern char** environ;

namespace {

using namespace edwc;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr char kToken[] = "bench-viewer-token";
constexpr char kBrokerToken[] = "bench-broker-token";

struct Center {
  std::string id;
  std::string config_path;
  config::CenterConfig config;
  cli::Child child;
  std::string api_url;
  std::string peer_url;
  std::unique_ptr<gateway::HttpsClient> client;
};

std::string Field(const std::string& line, const std::string& key) {
  auto at = line.find(key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 1;
  return line.substr(at, line.find(' ', at) - at);
}

uint64_t LoopbackTxBytes() {
  std::ifstream in("/sys/class/net/lo/statistics/tx_bytes");
  uint64_t n = 0;
  in >> n;
  return n;
}

// center id -> (liveness, h800 price now in fen) from one center's view.
std::map<std::string, std::pair<std::string, int64_t>> ViewOf(Center& c) {
  std::map<std::string, std::pair<std::string, int64_t>> out;
  auto r = c.client->Request("GET", "/v1/centers", "",
                             {{"authorization", std::string("Bearer ") + kToken}});
  if (!r.ok() || r->status != 200) return out;
  auto v = core::ParseJsonObject(r->body);
  if (!v.ok()) return out;
  for (const auto& e : v->at("centers").as_array()) {
    int64_t price = -1;
    for (const auto& a : e.at("accelerators").as_array()) {
      if (a.at("model").as_string() == "h800") {
        price = a.at("price_now_per_device_hour_fen").to_number<int64_t>();
      }
    }
    out[std::string(e.at("id").as_string())] = {std::string(e.at("liveness").as_string()), price};
  }
  return out;
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "federation_bench: %s\n", why.c_str());
  return 1;
}

}  // namespace

// Writes center i's config and starts its agent; returns false (with `why`) on failure.
bool StartCenter(Center& c, const fs::path& dir, const std::string& edwc, const std::string& seed,
                 const std::string& jobs_dir, std::string* why) {
  const fs::path cdir = dir / c.id;
  fs::create_directories(cdir);
  if (auto st = gateway::IssueCenterCert((dir / "ca").string(), c.id, (cdir / "certs").string());
      !st.ok()) {
    *why = st.ToString();
    return false;
  }
  config::CenterConfig& cfg = c.config;
  cfg.center = {c.id, "Bench " + c.id, "ningxia", "Zhongwei", "cn-northwest", {37.5, 105.19}};
  cfg.api = {"127.0.0.1", 0};
  cfg.peer = {"127.0.0.1", 0};
  cfg.tls = {(cdir / "certs/ca.pem").string(), (cdir / "certs/chain.pem").string(),
             (cdir / "certs/center.key").string()};
  cfg.storage.path = (cdir / "data").string();
  if (!jobs_dir.empty()) cfg.jobs.work_dir = (fs::path(jobs_dir) / c.id).string();
  cfg.server.io_threads = 1;
  cfg.capacity.inventory = {{"h800", 64}};
  cfg.pricing.models = {{"h800", {core::Money::Fen(1800), {}}}};
  cfg.pricing.egress_per_gb = core::Money::Fen(30);
  cfg.tokens = {{"bench", config::Role::kViewer, gateway::Sha256Hex(kToken)},
                {"bench-broker", config::Role::kBroker, gateway::Sha256Hex(kBrokerToken)}};
  if (!seed.empty()) cfg.federation.seeds = {seed};
  c.config_path = (cdir / "center.yaml").string();
  std::ofstream(c.config_path) << config::RenderCenterConfig(cfg);
  auto child =
      cli::Spawn({edwc, "agent", "--config", c.config_path}, (cdir / "agent.log").string());
  if (!child.ok()) {
    *why = child.status().ToString();
    return false;
  }
  c.child = *child;
  auto ready = cli::AwaitLine(c.child, "ready ", Clock::now() + 60s);
  if (!ready.ok()) {
    *why = c.id + " did not start: " + ready.status().ToString();
    return false;
  }
  c.api_url = Field(*ready, "api");
  c.peer_url = Field(*ready, "peer");
  auto client = gateway::HttpsClient::Create(c.api_url, {cfg.tls.ca, "", "", false}, 5s);
  if (!client.ok()) {
    *why = client.status().ToString();
    return false;
  }
  c.client = std::move(client).value();
  return true;
}

using Millis = std::chrono::duration<double, std::milli>;

// Polls every center until `done(i, view)` holds for all; returns the time it took, or
// nullopt after `within`. Its resolution is one pass over the N views.
template <typename Pred>
std::optional<Millis> AwaitAll(std::vector<Center>& centers, Pred done,
                               std::chrono::seconds within) {
  const auto start = Clock::now();
  std::vector<bool> ok(centers.size(), false);
  while (Clock::now() - start < within) {
    bool all = true;
    for (size_t i = 0; i < centers.size(); ++i) {
      if (!ok[i]) ok[i] = done(i, ViewOf(centers[i]));
      all = all && ok[i];
    }
    if (all) return Millis(Clock::now() - start);
  }
  return std::nullopt;
}

// Jobs held and committed per second across the federation; see the top of the file.
bool RunJobs(std::vector<Center>& centers, int jobs, int brokers, const std::string& job_command,
             double* jobs_per_s, std::string* why) {
  std::vector<std::vector<std::pair<size_t, std::string>>> placed(static_cast<size_t>(brokers));
  std::atomic<int> next{0}, failures{0};
  const std::string body =
      json::serialize(json::object{{"model", "h800"},
                                   {"count", 1},
                                   {"duration_minutes", 10},
                                   {"command", json::array{json::value(job_command)}}});
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int b = 0; b < brokers; ++b) {
    threads.emplace_back([&, b] {
      std::vector<std::unique_ptr<gateway::HttpsClient>> clients;
      for (const Center& c : centers) {
        auto client =
            gateway::HttpsClient::Create(c.api_url, {c.config.tls.ca, "", "", false}, 30s);
        if (!client.ok()) return;
        clients.push_back(std::move(client).value());
      }
      for (int j = next++; j < jobs; j = next++) {
        const size_t home = static_cast<size_t>(j) % centers.size();
        auto r = clients[home]->Request("POST", "/v1/jobs", body,
                                        {{"authorization", std::string("Bearer ") + kBrokerToken},
                                         {"content-type", "application/json"},
                                         {"idempotency-key", "bench-" + std::to_string(j)}});
        auto doc = r.ok() ? core::ParseJsonObject(r->body) : core::Result<json::object>(r.status());
        if (!r.ok() || r->status >= 300 || !doc.ok()) {
          ++failures;
          continue;
        }
        placed[static_cast<size_t>(b)].emplace_back(home, std::string(doc->at("id").as_string()));
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto submitted = Clock::now();
  // Every home lists its jobs; a job counts once it is committed or beyond.
  auto beyond_held = [](std::string_view s) { return s != "placing" && s != "held"; };
  size_t total = 0;
  for (const auto& p : placed) total += p.size();
  for (;;) {
    size_t done = 0;
    for (Center& c : centers) {
      std::string after;
      for (;;) {
        auto r = c.client->Request("GET",
                                   "/v1/jobs?limit=1000" + (after.empty() ? "" : "&after=" + after),
                                   "", {{"authorization", std::string("Bearer ") + kBrokerToken}});
        auto doc = r.ok() ? core::ParseJsonObject(r->body) : core::Result<json::object>(r.status());
        if (!doc.ok()) break;
        for (const auto& j : doc->at("jobs").as_array()) {
          if (beyond_held(j.at("state").as_string())) ++done;
        }
        const json::value& more = doc->at("next");
        if (!more.is_string()) break;
        after = std::string(more.as_string());
      }
    }
    if (done >= total) break;
    if (Clock::now() - submitted > 120s) {
      *why = std::to_string(total - done) + " jobs not committed within 120 s";
      return false;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  *jobs_per_s = static_cast<double>(total) / seconds;
  std::printf(
      "centers %zu: %zu jobs held and committed in %.2f s by %d brokers: %.0f jobs/s "
      "(%d submissions failed; submitting took %.2f s)\n",
      centers.size(), total, seconds, brokers, *jobs_per_s, failures.load(),
      std::chrono::duration<double>(submitted - start).count());
  return true;
}

// The jobs anchor: the executable for `name` (PATH searched when it has no '/').
std::string ResolveCommand(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// One anchor job in `dir`: what the process executor does per job with nothing around
// it (see the top of the file). Returns false (with `why`) on any failure.
bool SpawnAndWait(const std::string& path, const fs::path& dir, std::string* why) {
  if (::mkdir(dir.c_str(), 0755) != 0 || ::mkdir((dir / "output").c_str(), 0755) != 0) {
    *why = "mkdir " + dir.string() + ": " + std::strerror(errno);
    return false;
  }
  core::Fd d(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  core::Fd in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  core::Fd out(::openat(d.get(), "stdout.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  core::Fd err(::openat(d.get(), "stderr.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!d.valid() || !in.valid() || !out.valid() || !err.valid()) {
    *why = "open in " + dir.string() + ": " + std::strerror(errno);
    return false;
  }
  pid_t pid = 0;
  std::string arg0 = path;
  char* argv[] = {arg0.data(), nullptr};
  if (int rc = executor::SpawnJobProcess(path.c_str(), argv, environ, d.get(), in.get(), out.get(),
                                         err.get(), &pid);
      rc != 0) {
    *why = "posix_spawn " + path + ": " + std::strerror(rc);
    return false;
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *why = path + " in " + dir.string() + " did not exit 0";
    return false;
  }
  return true;
}

// The jobs anchor: `jobs` processes of `command` by `threads` threads, each in its own
// directory under `root`; returns processes per second, or nullopt (with `why`).
std::optional<double> SpawnAnchor(int jobs, int threads, const std::string& command,
                                  const fs::path& root, std::string* why) {
  const std::string path = ResolveCommand(command);
  if (path.empty()) {
    *why = "command not found: " + command;
    return std::nullopt;
  }
  fs::create_directories(root);
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::string first_failure;
  std::mutex mu;
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::string failure;
      for (int j = next++; j < jobs && !failed; j = next++) {
        if (SpawnAndWait(path, root / ("anchor-" + std::to_string(j)), &failure)) continue;
        std::lock_guard lock(mu);
        if (!failed.exchange(true)) first_failure = failure;
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failed) {
    *why = first_failure;
    return std::nullopt;
  }
  return jobs / std::chrono::duration<double>(Clock::now() - start).count();
}

// The price change's anchor, measured with center 0's own identity on the peer
// listeners; see the top of the file.
struct TellAll {
  double fresh_ms = 0;      // median over rounds: N-1 fresh connections and pushes
  double keepalive_ms = 0;  // the same over kept-alive connections
  double advert_bytes = 0;  // mean size of one signed advert (JSON)
  size_t adverts = 0;       // how many the digest exchange returned
  int rounds = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Every center's signed advert, from a digest exchange with an empty digest (the replier
// returns every advert it holds). Returns center 0's as a push body.
bool FetchAdverts(gateway::HttpsClient& peer, const std::string& origin, TellAll* out,
                  std::string* push_body, std::string* why) {
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/json"}};
  auto r = peer.Request("POST", "/peer/v1/gossip", R"({"kind":"digest","digest":[]})", headers);
  auto doc = r.ok() ? core::ParseJsonObject(r->body) : core::Result<json::object>(r.status());
  if (!doc.ok() || r->status != 200 || !doc->contains("adverts")) {
    *why = "digest exchange failed: " + (r.ok() ? r->body : r.status().ToString());
    return false;
  }
  size_t bytes = 0;
  for (const json::value& a : doc->at("adverts").as_array()) {
    bytes += json::serialize(a).size();
    if (a.at("center").as_string() == origin) {
      *push_body = json::serialize(json::object{{"kind", "push"}, {"adverts", json::array{a}}});
    }
    ++out->adverts;
  }
  if (push_body->empty() || out->adverts == 0) {
    *why = "the digest exchange returned no advert of " + origin;
    return false;
  }
  out->advert_bytes = static_cast<double>(bytes) / static_cast<double>(out->adverts);
  return true;
}

// One round: pushes `body` to every client in turn, each on a fresh connection when
// `fresh`; returns milliseconds, or nullopt if any push was not answered 200.
std::optional<double> PushToAll(std::vector<std::unique_ptr<gateway::HttpsClient>>& peers,
                                const std::string& body, bool fresh) {
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/json"}};
  const auto start = Clock::now();
  for (auto& p : peers) {
    auto r = p->Request("POST", "/peer/v1/gossip", body, headers);
    if (!r.ok() || r->status != 200) return std::nullopt;
    if (fresh) p->Disconnect();
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::optional<TellAll> MeasureTellAll(std::vector<Center>& centers, int rounds, std::string* why) {
  const config::TlsFiles& own = centers[0].config.tls;
  std::vector<std::unique_ptr<gateway::HttpsClient>> peers;
  for (size_t i = 1; i < centers.size(); ++i) {
    auto client =
        gateway::HttpsClient::Create(centers[i].peer_url, {own.ca, own.cert, own.key}, 10s);
    if (!client.ok()) {
      *why = client.status().ToString();
      return std::nullopt;
    }
    peers.push_back(std::move(client).value());
  }
  TellAll out;
  std::string body;
  if (!FetchAdverts(*peers[0], centers[0].id, &out, &body, why)) return std::nullopt;
  peers[0]->Disconnect();
  std::vector<double> fresh, kept;
  for (int r = 0; r < rounds; ++r) {
    auto ms = PushToAll(peers, body, /*fresh=*/true);
    if (!ms) break;
    fresh.push_back(*ms);
  }
  if (PushToAll(peers, body, /*fresh=*/false)) {  // opens the connections kept below
    for (int r = 0; r < rounds; ++r) {
      auto ms = PushToAll(peers, body, /*fresh=*/false);
      if (!ms) break;
      kept.push_back(*ms);
    }
  }
  if (fresh.size() != static_cast<size_t>(rounds) || kept.size() != static_cast<size_t>(rounds)) {
    *why = "a gossip push to a peer listener failed";
    return std::nullopt;
  }
  out.fresh_ms = Median(fresh);
  out.keepalive_ms = Median(kept);
  out.rounds = rounds;
  return out;
}

// The federation's figures as ratios to their anchors, and the RESULT line.
void PrintFederationAnchors(int n, const TellAll& tell, double propagation_ms,
                            double kbit_per_center, std::chrono::milliseconds refresh) {
  const double floor_kbit =
      tell.advert_bytes * n * 8 / 1000 / std::chrono::duration<double>(refresh).count();
  std::printf(
      "anchor: telling the %d other centers directly, one after another (one client; per center "
      "a fresh mTLS connection and one gossip push of the signed advert): %.1f ms (median of "
      "%d rounds; %.2f ms over kept-alive connections); price change / anchor = %.2f\n",
      n - 1, tell.fresh_ms, tell.rounds, tell.keepalive_ms, propagation_ms / tell.fresh_ms);
  std::printf(
      "anchor: one signed advert is %.0f bytes (JSON, mean of %zu); every advert once per "
      "%lld s is %.2f kbit/s per center; at rest / anchor = %.2f\n",
      tell.advert_bytes, tell.adverts, static_cast<long long>(refresh.count() / 1000), floor_kbit,
      kbit_per_center / floor_kbit);
  std::printf(
      "RESULT bench=federation centers=%d propagation_ms=%.2f anchor_tell_all_ms=%.2f "
      "anchor_tell_all_keepalive_ms=%.2f propagation_ratio=%.3f idle_kbit_s=%.2f "
      "advert_bytes=%.0f anchor_floor_kbit_s=%.3f idle_ratio=%.3f\n",
      n, propagation_ms, tell.fresh_ms, tell.keepalive_ms, propagation_ms / tell.fresh_ms,
      kbit_per_center, tell.advert_bytes, floor_kbit, kbit_per_center / floor_kbit);
}

int main(int argc, char** argv) {
  std::string edwc = "build/release/cli/edwc";
  int n = 8;
  int idle_seconds = 10;
  int jobs = 0;
  int brokers = 32;
  std::string jobs_dir;
  std::string job_command = "true";
  int anchor_rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--edwc") edwc = argv[i + 1];
    if (k == "--centers") n = std::stoi(argv[i + 1]);
    if (k == "--idle-seconds") idle_seconds = std::stoi(argv[i + 1]);
    if (k == "--jobs") jobs = std::stoi(argv[i + 1]);
    if (k == "--brokers") brokers = std::stoi(argv[i + 1]);
    if (k == "--jobs-dir") jobs_dir = argv[i + 1];
    if (k == "--job-command") job_command = argv[i + 1];
    if (k == "--anchor-rounds") anchor_rounds = std::max(1, std::stoi(argv[i + 1]));
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);

  std::string tmpl = (fs::temp_directory_path() / "edwc-fedbench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Fail("mkdtemp");
  const fs::path dir = tmpl;
  if (auto st = gateway::InitDevCa((dir / "ca").string()); !st.ok()) return Fail(st.ToString());

  std::vector<Center> centers(static_cast<size_t>(n));
  auto cleanup = [&] {
    std::vector<cli::Child> children;
    for (auto& c : centers) {
      if (c.child.pid > 0) children.push_back(c.child);
    }
    cli::StopChildren(children, 10s);
    fs::remove_all(dir);
    if (!jobs_dir.empty()) {
      for (const auto& c : centers) fs::remove_all(fs::path(jobs_dir) / c.id);
      fs::remove_all(fs::path(jobs_dir) / "anchor");
    }
  };
  for (int i = 0; i < n; ++i) {
    Center& c = centers[static_cast<size_t>(i)];
    c.id = "bench" + std::to_string(i);
    std::string why;
    if (!StartCenter(c, dir, edwc, i == 0 ? "" : centers[0].peer_url, jobs_dir, &why)) {
      cleanup();
      return Fail(why);
    }
  }
  const size_t count = centers.size();
  auto joined = AwaitAll(
      centers,
      [&](size_t, const auto& view) {
        if (view.size() != count) return false;
        for (const auto& [id, state] : view) {
          if (state.first != "alive") return false;
        }
        return true;
      },
      120s);
  if (!joined) {
    cleanup();
    return Fail("the federation did not converge within 120 s");
  }
  std::printf("centers %d: all see all alive %lld ms after the last started\n", n,
              static_cast<long long>(joined->count() + 0.5));

  // At rest.
  std::this_thread::sleep_for(2s);  // let the joining wave of news die down
  const uint64_t before = LoopbackTxBytes();
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  const uint64_t after = LoopbackTxBytes();
  const double kbit_per_center = static_cast<double>(after - before) * 8 / 1000 / idle_seconds / n;
  std::printf("centers %d: at rest %.1f kbit/s sent per center (loopback, %d s)\n", n,
              kbit_per_center, idle_seconds);

  // A price change at center 0.
  Center& origin = centers[0];
  origin.config.pricing.models[0].schedule.base_per_device_hour = core::Money::Fen(1750);
  std::ofstream(origin.config_path) << config::RenderCenterConfig(origin.config);
  const auto edited = Clock::now();
  // t0: center 0 has re-read its config and advertises the new price.
  for (;;) {
    auto view = ViewOf(origin);
    auto it = view.find(origin.id);
    if (it != view.end() && it->second.second == 1750) break;
    if (Clock::now() - edited > 30s) {
      cleanup();
      return Fail("center 0 did not apply its new price within 30 s");
    }
    std::this_thread::sleep_for(5ms);
  }
  auto everywhere = AwaitAll(
      centers,
      [&](size_t, const auto& view) {
        auto it = view.find(origin.id);
        return it != view.end() && it->second.second == 1750;
      },
      30s);
  if (!everywhere) {
    cleanup();
    return Fail("the price change did not reach every center within 30 s");
  }
  std::printf(
      "centers %d: a price change reached every view %.1f ms after its center advertised it "
      "(%lld ms after the config edit, which agents check every 2 s)\n",
      n, everywhere->count(),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - edited).count()));
  if (n >= 2) {
    std::string why;
    std::optional<TellAll> tell = MeasureTellAll(centers, anchor_rounds, &why);
    if (!tell) {
      cleanup();
      return Fail(why);
    }
    PrintFederationAnchors(n, *tell, everywhere->count(), kbit_per_center,
                           centers[0].config.federation.gossip.refresh);
  }
  if (jobs > 0) {
    std::string why;
    const fs::path anchor_root =
        jobs_dir.empty() ? dir / "anchor.jobs" : fs::path(jobs_dir) / "anchor";
    std::optional<double> spawn_per_s = SpawnAnchor(jobs, brokers, job_command, anchor_root, &why);
    double jobs_per_s = 0;
    if (!spawn_per_s || !RunJobs(centers, jobs, brokers, job_command, &jobs_per_s, &why)) {
      cleanup();
      return Fail(why);
    }
    std::printf(
        "anchor: the same %d processes started by %d threads with posix_spawn and waited for, "
        "each in its own directory with its log files, no gateway: %.0f processes/s; "
        "jobs/s / processes/s = %.2f\n",
        jobs, brokers, *spawn_per_s, jobs_per_s / *spawn_per_s);
    std::printf(
        "RESULT bench=jobs centers=%d jobs=%d brokers=%d jobs_per_s=%.0f anchor_spawn_per_s=%.0f "
        "ratio=%.3f\n",
        n, jobs, brokers, jobs_per_s, *spawn_per_s, jobs_per_s / *spawn_per_s);
  }
  cleanup();
  return 0;
}
