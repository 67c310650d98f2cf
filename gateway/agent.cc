#include "gateway/agent.h"

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>

#include "core/log.h"
#include "gateway/api.h"
#include "gateway/auth.h"
#include "gateway/certs.h"
#include "gateway/http_server.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "storage/store.h"

namespace edwc::gateway {

namespace {

std::vector<executor::ModelCapacity> Inventory(const config::CapacityConfig& capacity) {
  std::vector<executor::ModelCapacity> out;
  for (const auto& e : capacity.inventory) out.push_back({e.model, e.count, 0});
  return out;
}

ServerSettings ApiSettings(const config::CenterConfig& c) {
  ServerSettings s;
  s.address = c.api.address;
  s.port = c.api.port;
  s.max_connections = c.server.max_connections;
  s.header_limit_bytes = c.server.header_limit_bytes;
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

core::Result<std::string> ReadFile(const std::string& path, std::string field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::InvalidArgument("cannot read " + path, std::move(field));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

core::Status Agent::CheckTls(const config::CenterConfig& c) {
  auto id = CenterIdFromCertificateFile(c.tls.cert);
  if (!id.ok()) {
    return core::InvalidArgument(c.tls.cert + ": " + id.status().message(), "tls.cert");
  }
  if (*id != c.center.id) {
    return core::InvalidArgument(
        c.tls.cert + " is the certificate of center '" + *id + "', not of '" + c.center.id + "'",
        "tls.cert");
  }
  if (auto st = CheckKeyMatchesCertificate(c.tls.cert, c.tls.key); !st.ok()) {
    return core::InvalidArgument(c.tls.key + ": " + st.message(), "tls.key");
  }
  EDWC_ASSIGN_OR_RETURN(std::string leaf, ReadFile(c.tls.cert, "tls.cert"));
  EDWC_ASSIGN_OR_RETURN(std::string ca, ReadFile(c.tls.ca, "tls.ca"));
  if (auto st = VerifyCertificateAgainstCa(leaf, ca, core::SystemClock().Now()); !st.ok()) {
    return core::InvalidArgument(
        c.tls.cert + " does not verify against " + c.tls.ca + ": " + st.message(), "tls.cert");
  }
  return core::Status::Ok();
}

struct Agent::Impl {
  explicit Impl(config::CenterConfig c)
      : config(std::move(c)),
        runtime(config.server.io_threads),
        auth(config.tokens),
        capacity(executor::MakeStaticCapacity(Inventory(config.capacity))),
        api(config, capacity.get(), &clock, &metrics),
        router(&auth, &metrics) {}
  // The I/O threads stop before anything they may touch (server, router, store) goes,
  // whichever way the agent ends, including a failed Start.
  ~Impl() {
    runtime.Stop();
    runtime.Join();
  }

  config::CenterConfig config;
  core::SystemClock clock;
  Metrics metrics;
  IoRuntime runtime;
  Authenticator auth;
  executor::CapacitySourcePtr capacity;
  ApiService api;
  Router router;
  std::unique_ptr<HttpServer> server;
  storage::StorePtr store;
  uint16_t api_port = 0;
  uint64_t epoch = 0;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;  // GUARDED_BY(mu)
  bool drained = false;         // GUARDED_BY(mu)
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() = default;

core::Result<std::unique_ptr<Agent>> Agent::Start(config::CenterConfig config,
                                                  bool handle_signals) {
  EDWC_RETURN_IF_ERROR(CheckTls(config));
  auto impl = std::make_unique<Impl>(std::move(config));
  Impl* p = impl.get();
  p->api.RegisterRoutes(p->router);
  p->server = std::make_unique<HttpServer>(
      p->runtime, ApiSettings(p->config),
      [p](HttpRequest& req, Respond respond) { p->router.Dispatch(req, std::move(respond)); },
      &p->metrics);
  EDWC_ASSIGN_OR_RETURN(p->api_port, p->server->Listen());
  if (handle_signals) {
    p->runtime.OnSignal([p](int sig) {
      core::LogInfo("agent", std::string("signal ") + std::to_string(sig) + ": draining");
      std::lock_guard lock(p->mu);
      p->stop_requested = true;
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
  p->api.SetReady(p->epoch);
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

uint16_t Agent::api_port() const { return impl_->api_port; }
uint64_t Agent::epoch() const { return impl_->epoch; }
const config::CenterConfig& Agent::config() const { return impl_->config; }

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
  p->store.reset();  // completes queued writes, then closes the database
  core::LogInfo("agent", "stopped");
  return clean ? 0 : 1;
}

}  // namespace edwc::gateway
