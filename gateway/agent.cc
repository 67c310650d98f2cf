#include "gateway/agent.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "config/load.h"
#include "core/log.h"
#include "executor/process_executor.h"
#include "executor/slurm_capacity.h"
#include "executor/slurm_executor.h"
#include "gateway/advert_crypto.h"
#include "gateway/api.h"
#include "gateway/auth.h"
#include "gateway/certs.h"
#include "gateway/dataset_service.h"
#include "gateway/federation_service.h"
#include "gateway/hold_service.h"
#include "gateway/http_server.h"
#include "gateway/io_runtime.h"
#include "gateway/job_service.h"
#include "gateway/metrics.h"
#include "gateway/peer_client.h"
#include "gateway/rate_limiter.h"
#include "gateway/router.h"
#include "gateway/settlement_service.h"
#include "gateway/transfer_service.h"
#include "storage/store.h"

namespace edwc::gateway {

namespace {

// The capacity source the config names: the static inventory, or slurmrestd (whose first
// read happens here, so a center never advertises before it knows its capacity).
core::Result<executor::CapacitySourcePtr> MakeCapacity(const config::CapacityConfig& capacity) {
  if (capacity.source == config::CapacityConfig::Source::kSlurm) {
    executor::SlurmCapacityOptions options;
    options.socket_path = capacity.slurm.socket;
    options.refresh = capacity.slurm.refresh;
    options.gres_models = capacity.slurm.gres_models;
    return executor::MakeSlurmCapacity(std::move(options));
  }
  std::vector<executor::ModelCapacity> inventory;
  for (const auto& e : capacity.inventory) inventory.push_back({e.model, e.count, 0});
  return executor::MakeStaticCapacity(std::move(inventory));
}

// The executor that matches the capacity source: jobs on a static inventory run as child
// processes; on Slurm they are submitted through slurmrestd.
HoldService::ExecutorFactory MakeExecutorFactory(const config::CenterConfig& c,
                                                 const core::Clock* clock) {
  return [&c, clock](executor::JobEnded on_end) -> core::Result<executor::JobExecutorPtr> {
    if (c.capacity.source != config::CapacityConfig::Source::kSlurm) {
      return executor::MakeProcessExecutor(std::move(on_end), clock);
    }
    executor::SlurmExecutorOptions options;
    options.socket_path = c.capacity.slurm.socket;
    for (const auto& [type, model] : c.capacity.slurm.gres_models) {
      options.model_gres.emplace_back(model, type);
    }
    return executor::MakeSlurmExecutor(std::move(options), std::move(on_end), clock);
  };
}

ServerSettings ListenerSettings(const config::CenterConfig& c, const config::Listener& l) {
  ServerSettings s;
  s.address = l.address;
  s.port = l.port;
  s.max_connections = c.server.max_connections;
  s.header_limit_bytes = c.server.header_limit_bytes;
  s.url_limit_bytes = c.server.url_limit_bytes;
  s.body_limit_bytes = c.server.body_limit_bytes;
  s.handshake_timeout = c.server.handshake_timeout;
  s.read_timeout = c.server.read_timeout;
  s.write_timeout = c.server.write_timeout;
  s.idle_timeout = c.server.idle_timeout;
  s.tls.cert_file = c.tls.cert;
  s.tls.key_file = c.tls.key;
  s.tls.ca_file = c.tls.ca;
  return s;
}

std::string UrlHost(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

// Modification time of a file, or 0 when it cannot be read.
int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

core::Result<CenterTls> LoadTls(const config::CenterConfig& c, core::Time now) {
  return LoadCenterTls(c.tls.cert, c.tls.key, c.tls.ca, c.center.id, now);
}

// Everything a certificate reload swaps in, made before any of it is used.
struct PreparedTls {
  std::shared_ptr<HttpServer::TlsContext> api, peer;
  std::shared_ptr<HttpsPeerClient::TlsContext> client;
  std::shared_ptr<const federation::AdvertSigner> signer;
  std::shared_ptr<const CaAdvertVerifier::TrustAnchors> anchors;
};

core::Result<PreparedTls> PrepareTls(const CenterTls& tls, const HttpServer& api,
                                     const HttpServer& peer) {
  PreparedTls out;
  EDWC_ASSIGN_OR_RETURN(out.api, api.MakeTlsContext(tls));
  EDWC_ASSIGN_OR_RETURN(out.peer, peer.MakeTlsContext(tls));
  EDWC_ASSIGN_OR_RETURN(out.client, HttpsPeerClient::MakeTlsContext(tls));
  EDWC_ASSIGN_OR_RETURN(
      out.signer, MakeAdvertSignerFromPem(tls.chain_pem, tls.key_pem, tls.cert_file, tls.key_file));
  EDWC_ASSIGN_OR_RETURN(out.anchors, CaAdvertVerifier::ParseTrustAnchors(tls.ca_pem, tls.ca_file));
  return out;
}

}  // namespace

core::Status Agent::CheckTls(const config::CenterConfig& c) {
  return LoadTls(c, core::SystemClock().Now()).status();
}

// A full api listener, plus the peers' connections, the store's files and job logs, need
// more descriptors than the usual soft limit of 1,024: raise it toward the hard limit (as
// nginx's worker_rlimit_nofile does), and say so when even that is short.
void RaiseFileLimit(const config::ServerLimits& server) {
  const rlim_t wanted = static_cast<rlim_t>(server.max_connections) + 2048;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  const rlim_t was = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
  if (limit.rlim_cur > was && setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = was;
  if (limit.rlim_cur < wanted) {
    core::LogWarn("agent", "open-file limit is " + std::to_string(limit.rlim_cur) + " (hard " +
                               std::to_string(limit.rlim_max) + "), below the " +
                               std::to_string(wanted) + " that server.max_connections " +
                               std::to_string(server.max_connections) +
                               " needs: connections past it are refused at accept");
  }
}

void WatchConfig(Agent::Impl* p);
void ApplyConfigChanges(Agent::Impl* p, const std::string& why);
void StopWatchingConfig(Agent::Impl* p);

struct Agent::Impl {
  Impl(config::CenterConfig c, executor::CapacitySourcePtr source)
      : config(std::move(c)),
        running(config),
        runtime(config.server.io_threads),
        auth(config.tokens),
        capacity(std::move(source)),
        api(config, &clock, &metrics),
        token_limits(config.rate_limits.per_token),
        peer_limits(config.rate_limits.per_peer),
        router(&auth, &metrics, &token_limits),
        peer_router(&auth, &metrics, &peer_limits) {}
  // The I/O threads stop before anything they may touch (server, router, store) goes,
  // whichever way the agent ends, including a failed Start.
  ~Impl() {
    StopWatchingConfig(this);
    runtime.Stop();
    runtime.Join();
    jobs.reset();  // before the store they write to
    holds.reset();
    transfers.reset();
    datasets.reset();
  }

  config::CenterConfig config;
  // The config in effect: `config` plus the reloads applied since. Config watcher only.
  config::CenterConfig running;
  CenterTls tls;  // the certificates in effect, as read. Config watcher only, after Start.
  core::SystemClock clock;
  Metrics metrics;
  IoRuntime runtime;
  Authenticator auth;
  executor::CapacitySourcePtr capacity;  // the inventory: what the center has
  std::unique_ptr<HoldService> holds;    // what of it is free: the advertised capacity
  std::unique_ptr<JobService> jobs;
  std::unique_ptr<DatasetService> datasets;
  std::unique_ptr<TransferService> transfers;
  std::unique_ptr<SettlementService> settlements;
  ApiService api;
  RateLimiter token_limits;  // rate_limits.per_token, on the api listener
  RateLimiter peer_limits;   // rate_limits.per_peer, on the peer listener
  Router router;
  Router peer_router;  // peer routes only: mTLS identifies the caller, no bearer tokens
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<HttpServer> peer_server;
  std::unique_ptr<FederationService> federation;
  std::atomic<FederationService*> federation_ready{nullptr};
  storage::StorePtr store;
  uint16_t api_port = 0;
  uint16_t peer_port = 0;
  uint64_t epoch = 0;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;    // GUARDED_BY(mu)
  bool drained = false;           // GUARDED_BY(mu)
  bool watcher_stop = false;      // GUARDED_BY(mu)
  bool reload_requested = false;  // GUARDED_BY(mu): SIGHUP arrived
  std::thread config_watcher;
};

// Prices, tokens, seeds, the revocation list and the certificates are applied without a
// restart: the config file is re-read on SIGHUP and when it changes (checked every two
// seconds), and the TLS files with it. A config that does not load, changes a key that
// needs a restart, or names TLS files that do not check out is refused as a whole.
// The check reads and parses files, so it has a thread of its own, never an I/O thread.
void WatchConfig(Agent::Impl* p) {
  if (p->config.source_file.empty()) return;
  p->config_watcher = std::thread([p] {
    int64_t seen = MtimeNs(p->config.source_file);
    std::unique_lock lock(p->mu);
    for (;;) {
      p->cv.wait_for(lock, std::chrono::seconds(2),
                     [p] { return p->watcher_stop || p->reload_requested; });
      if (p->watcher_stop) return;
      const bool hangup = std::exchange(p->reload_requested, false);
      lock.unlock();
      const int64_t mtime = MtimeNs(p->config.source_file);
      if (hangup || (mtime != 0 && mtime != seen)) {
        seen = mtime;
        ApplyConfigChanges(p, hangup ? "SIGHUP" : "file changed");
      }
      lock.lock();
    }
  });
}

namespace {

// A listener's address and port are unchanged when the port is the configured one or,
// for a configured 0, the one that was bound (what a config rewritten after start holds).
bool SameListener(const config::Listener& fresh, const config::Listener& running, uint16_t bound) {
  return fresh.address == running.address &&
         (fresh.port == running.port || (running.port == 0 && fresh.port == bound));
}

// The keys of `fresh` that differ from `running` and cannot change without a restart.
std::vector<std::string> RestartOnlyChanges(const config::CenterConfig& fresh,
                                            const config::CenterConfig& running, uint16_t api_port,
                                            uint16_t peer_port) {
  std::vector<std::string> keys;
  const auto check = [&keys](bool same, const char* key) {
    if (!same) keys.emplace_back(key);
  };
  if (fresh.center.id != running.center.id) {
    keys.emplace_back("center.id");
  } else {
    check(fresh.center == running.center, "center");
  }
  check(SameListener(fresh.api, running.api, api_port), "listen.api");
  check(SameListener(fresh.peer, running.peer, peer_port), "listen.peer");
  check(fresh.storage == running.storage, "storage");
  check(fresh.server == running.server, "server");
  check(fresh.capacity == running.capacity, "capacity");
  check(fresh.federation.links == running.federation.links, "federation.links");
  check(fresh.federation.gossip == running.federation.gossip, "federation.gossip");
  check(fresh.jobs == running.jobs, "jobs");
  check(fresh.datasets == running.datasets, "datasets");
  check(fresh.credit == running.credit, "credit");
  return keys;
}

std::string Joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// The loader reports every problem on a line of its own; the log gets one line.
std::string OneLine(std::string text) {
  while (!text.empty() && text.back() == '\n') text.pop_back();
  for (size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at)) {
    text.replace(at, 1, "; ");
  }
  return text;
}

}  // namespace

void ApplyConfigChanges(Agent::Impl* p, const std::string& why) {
  const std::string refused = "config reload (" + why + ") refused, keeping the running config: ";
  auto fresh = config::LoadCenterConfig(p->config.source_file);
  if (!fresh.ok()) {
    core::LogWarn("agent", refused + OneLine(fresh.status().message()));
    return;
  }
  const std::vector<std::string> restart_only =
      RestartOnlyChanges(*fresh, p->running, p->api_port, p->peer_port);
  if (!restart_only.empty()) {
    core::LogWarn("agent", refused + p->config.source_file + ": " + Joined(restart_only) +
                               " cannot change without a restart");
    return;
  }
  // The TLS files are read at every reload, changed paths or not: a rotation replaces them
  // in place. Everything is read, checked and made before anything changes.
  auto tls = LoadTls(*fresh, p->clock.Now());
  if (!tls.ok()) {
    core::LogWarn("agent", refused + tls.status().message());
    return;
  }
  std::optional<PreparedTls> prepared;
  if (!tls->SameAs(p->tls)) {
    auto made = PrepareTls(*tls, *p->server, *p->peer_server);
    if (!made.ok()) {
      core::LogWarn("agent", refused + made.status().message());
      return;
    }
    prepared = std::move(made).value();
    // The one step that can fail (the ledger stores the new certificate) goes first.
    if (auto st = p->settlements->SetCredentials(prepared->signer, prepared->anchors); !st.ok()) {
      core::LogWarn("agent", refused + "storing the new certificate: " + st.ToString());
      return;
    }
  }
  config::CenterConfig& running = p->running;
  std::vector<std::string> changed;
  if (prepared) {
    p->federation->SetCredentials(prepared->signer, prepared->anchors);
    // The peer clients were made from the start-up files and share one context by them.
    HttpsPeerClient::UseTlsContext(p->config.tls, prepared->client);
    p->peer_server->UseTlsContext(prepared->peer);
    p->server->UseTlsContext(prepared->api);
    changed.emplace_back("tls (certificate serial " + tls->serial + ", not after " +
                         core::FormatRfc3339(tls->not_after) + ")");
    p->tls = std::move(tls).value();
  }
  if (fresh->pricing != running.pricing) {
    p->federation->SetPricing(fresh->pricing);
    p->holds->SetPricing(fresh->pricing);
    p->settlements->SetEgressPrice(fresh->pricing.egress_per_gb);
    changed.emplace_back("pricing");
  }
  if (fresh->tokens != running.tokens) {
    p->auth.SetTokens(fresh->tokens);
    changed.emplace_back("auth.tokens (" + std::to_string(fresh->tokens.size()) + ")");
  }
  if (fresh->federation.seeds != running.federation.seeds) {
    // Seeds only join: a removed seed that was reached is a peer now, and stays one.
    p->federation->AddSeeds(fresh->federation.seeds);
    changed.emplace_back("federation.seeds [" + Joined(fresh->federation.seeds) + "]");
  }
  if (fresh->federation.revoked != running.federation.revoked) {
    p->federation->SetRevoked(fresh->federation.revoked);
    changed.emplace_back("federation.revoked [" + Joined(fresh->federation.revoked) + "]");
  }
  if (fresh->rate_limits.per_token != running.rate_limits.per_token) {
    p->token_limits.SetLimit(fresh->rate_limits.per_token);
    changed.emplace_back("rate_limits.per_token");
  }
  if (fresh->rate_limits.per_peer != running.rate_limits.per_peer) {
    p->peer_limits.SetLimit(fresh->rate_limits.per_peer);
    changed.emplace_back("rate_limits.per_peer");
  }
  if (fresh->log != running.log) {
    core::ConfigureLog(fresh->log, fresh->center.id);
    changed.emplace_back("log");
  }
  running = std::move(fresh).value();
  core::LogInfo("agent", "config reloaded (" + why + "): " +
                             (changed.empty() ? "nothing changed" : "changed " + Joined(changed)));
}

void StopWatchingConfig(Agent::Impl* p) {
  {
    std::lock_guard lock(p->mu);
    p->watcher_stop = true;
  }
  p->cv.notify_all();
  if (p->config_watcher.joinable()) p->config_watcher.join();
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() = default;

core::Result<std::unique_ptr<Agent>> Agent::Start(config::CenterConfig config,
                                                  bool handle_signals) {
  core::ConfigureLog(config.log, config.center.id);  // before anything logs
  RaiseFileLimit(config.server);
  EDWC_ASSIGN_OR_RETURN(CenterTls tls, LoadTls(config, core::SystemClock().Now()));
  auto capacity = MakeCapacity(config.capacity);
  if (!capacity.ok()) return capacity.status().WithContext("capacity");
  auto impl = std::make_unique<Impl>(std::move(config), std::move(capacity).value());
  Impl* p = impl.get();
  p->tls = std::move(tls);
  auto holds =
      HoldService::Create(p->config, p->capacity.get(), MakeExecutorFactory(p->config, &p->clock),
                          p->runtime, &p->metrics, &p->clock);
  if (!holds.ok()) return holds.status();
  p->holds = std::move(holds).value();
  auto jobs = JobService::Create(p->config, p->runtime, &p->metrics, &p->clock);
  if (!jobs.ok()) return jobs.status().WithContext("jobs");
  p->jobs = std::move(jobs).value();
  EDWC_ASSIGN_OR_RETURN(p->datasets, DatasetService::Create(p->config, &p->metrics));
  EDWC_ASSIGN_OR_RETURN(p->transfers,
                        TransferService::Create(p->config, p->runtime, &p->metrics, &p->clock));
  EDWC_ASSIGN_OR_RETURN(p->settlements,
                        SettlementService::Create(p->config, p->runtime, &p->metrics, &p->clock));
  p->api.RegisterRoutes(p->router);
  p->jobs->RegisterRoutes(p->router);
  p->holds->RegisterRoutes(p->peer_router);
  p->datasets->RegisterRoutes(p->router, p->peer_router);
  p->transfers->RegisterRoutes(p->router, p->peer_router);
  p->settlements->RegisterRoutes(p->router, p->peer_router);
  p->server = std::make_unique<HttpServer>(
      p->runtime, ListenerSettings(p->config, p->config.api),
      [p](HttpRequest& req, Respond respond) { p->router.Dispatch(req, std::move(respond)); },
      &p->metrics, [p](HttpRequest& head) { return p->router.DispatchUpload(head); });
  EDWC_ASSIGN_OR_RETURN(p->api_port, p->server->Listen());
  // The peer listener: TLS 1.3 with a client certificate from the federation CA. Its
  // routes answer 503 until the federation service exists (storage opens first).
  p->peer_router.Add(
      "POST", FederationService::kGossipPath, Access::Public(),
      [p](HttpRequest& req, const RouteContext&, Respond respond) {
        FederationService* f = p->federation_ready.load();
        if (f == nullptr) {
          return respond(HttpResponse::Error(core::Status(core::Code::kUnavailable, "not ready")));
        }
        f->HandleGossip(req, std::move(respond));
      });
  p->peer_router.MarkRoutine("POST", FederationService::kGossipPath);
  ServerSettings peer = ListenerSettings(p->config, p->config.peer);
  peer.tls.require_client_cert = true;
  peer.tls.refuse_center = [p](std::string_view center) {
    const FederationService* f = p->federation_ready.load();
    return f != nullptr && f->IsRevoked(center);
  };
  p->peer_server = std::make_unique<HttpServer>(
      p->runtime, peer,
      [p](HttpRequest& req, Respond respond) { p->peer_router.Dispatch(req, std::move(respond)); },
      &p->metrics);
  uint16_t peer_port = 0;
  EDWC_ASSIGN_OR_RETURN(peer_port, p->peer_server->Listen());
  p->peer_port = peer_port;
  if (handle_signals) {
    p->runtime.OnSignal([p](int sig) {
      core::LogInfo("agent", std::string("signal ") + std::to_string(sig) + ": draining");
      std::lock_guard lock(p->mu);
      p->stop_requested = true;
      p->cv.notify_all();
    });
    // SIGHUP re-reads the config on the watcher thread (the reload reads files).
    p->runtime.OnHangup([p] {
      if (p->config.source_file.empty()) {
        core::LogWarn("agent", "SIGHUP: the config did not come from a file; nothing to reload");
        return;
      }
      std::lock_guard lock(p->mu);
      p->reload_requested = true;
      p->cv.notify_all();
    });
  }
  p->metrics.AddGauge("edwc_ready", "1 once storage is open and the view loaded.",
                      [p] { return p->api.ready() ? 1.0 : 0.0; });
  p->runtime.Start();

  // Storage opens after the listener so that /healthz answers and /readyz tells the truth
  // while a large database recovers.
  storage::StoreOptions options;
  options.path = p->config.storage.path;
  auto store = storage::Store::Open(options);
  if (!store.ok()) return store.status().WithContext("storage");
  p->store = std::move(store).value();
  auto epoch = storage::BumpEpoch(*p->store);
  if (!epoch.ok()) return epoch.status().WithContext("storage epoch");
  p->epoch = *epoch;
  const std::string peer_url =
      "https://" + UrlHost(p->config.peer.address) + ":" + std::to_string(p->peer_port);
  if (auto st = p->holds->Open(p->store.get()); !st.ok()) return st.WithContext("holds");
  auto federation = FederationService::Create(p->config, p->epoch, peer_url, p->holds.get(),
                                              p->runtime, &p->metrics, &p->clock);
  if (!federation.ok()) return federation.status().WithContext("federation");
  p->federation = std::move(federation).value();
  p->federation_ready = p->federation.get();
  if (auto st = p->datasets->Open(p->federation.get()); !st.ok()) {
    return st.WithContext("datasets");
  }
  if (auto st = p->transfers->Open(p->store.get(), &p->datasets->store(), p->federation.get());
      !st.ok()) {
    return st.WithContext("transfers");
  }
  p->holds->SetJobData(&p->transfers->job_data());
  p->jobs->SetManifestSource(
      [t = p->transfers.get()](const std::string& center, const std::string& dataset, auto done) {
        t->FetchManifest(center, dataset, std::move(done));
      });
  if (auto st = p->jobs->Open(p->store.get(), p->federation.get()); !st.ok()) {
    return st.WithContext("jobs");
  }
  p->holds->SetPayables(
      [jobs = p->jobs.get()](std::string_view center) { return jobs->PayableTo(center); });
  // Settlements: ended holds (payee) and received legs (payer) feed the ledger; offers
  // are checked against the jobs and transfers that asked for the work.
  if (auto st = p->settlements->Open(p->store.get(), p->federation.get()); !st.ok()) {
    return st.WithContext("settlements");
  }
  p->settlements->SetExpect(federation::SettlementKind::kCompute,
                            [jobs = p->jobs.get()](const federation::SettlementBody& b) {
                              return jobs->ExpectSettlement(b);
                            });
  p->settlements->SetExpect(federation::SettlementKind::kEgress,
                            [t = p->transfers.get()](const federation::SettlementBody& b) {
                              return t->ExpectSettlement(b);
                            });
  p->holds->SetEndedSink(
      [s = p->settlements.get()](const federation::HoldRecord& r) { s->SettleHold(r); });
  p->transfers->SetEgressSink(
      [s = p->settlements.get()](const federation::EgressClaim& c) { s->ClaimEgress(c); });
  p->holds->Start();
  p->jobs->Start();
  p->transfers->Start();
  p->settlements->Start();
  p->federation->Start();
  p->api.SetReady(p->epoch, p->federation.get());
  WatchConfig(p);
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

uint16_t Agent::api_port() const { return impl_->api_port; }
uint16_t Agent::peer_port() const { return impl_->peer_port; }
uint64_t Agent::epoch() const { return impl_->epoch; }
const config::CenterConfig& Agent::config() const { return impl_->config; }
std::vector<RouteInfo> Agent::api_routes() const { return impl_->router.Routes(); }
std::vector<RouteInfo> Agent::peer_routes() const { return impl_->peer_router.Routes(); }

void Agent::RequestStop() {
  std::lock_guard lock(impl_->mu);
  impl_->stop_requested = true;
  impl_->cv.notify_all();
}

int Agent::Wait() {
  Impl* p = impl_.get();
  std::unique_lock lock(p->mu);
  p->cv.wait(lock, [p] { return p->stop_requested; });
  lock.unlock();
  StopWatchingConfig(p);
  p->jobs->Stop();
  p->holds->Stop();
  p->transfers->Stop();
  p->settlements->Stop();
  p->federation->Stop();
  p->peer_server->Drain([] {});
  p->server->Drain([p] {
    std::lock_guard inner(p->mu);
    p->drained = true;
    p->cv.notify_all();
  });
  lock.lock();
  const bool clean =
      p->cv.wait_for(lock, p->config.server.drain_timeout, [p] { return p->drained; });
  lock.unlock();
  if (!clean) {
    core::LogWarn("agent", "drain timed out after " +
                               std::to_string(p->config.server.drain_timeout.count()) +
                               " ms; closing remaining connections");
  }
  p->runtime.Stop();
  p->runtime.Join();
  // The services go before the store: their executor and workers may still write.
  p->jobs.reset();
  p->holds.reset();
  p->transfers.reset();
  p->settlements.reset();
  p->datasets.reset();  // finishes the file work in progress
  p->store.reset();     // completes queued writes, then closes the database
  core::LogInfo("agent", "stopped");
  return clean ? 0 : 1;
}

}  // namespace edwc::gateway
