#include "tests/integration/cluster.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "config/load.h"
#include "gateway/http_client.h"

namespace edwc::testing {

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::string Field(const std::string& line, const std::string& key) {
  auto at = line.find(key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 1;
  return line.substr(at, line.find(' ', at) - at);
}

// The end of an agent's log, for failure messages.
std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() > 4000 ? "..." + all.substr(all.size() - 4000) : all;
}

std::pair<int, json::value> Parsed(const core::Result<gateway::HttpResponse>& r) {
  if (!r.ok()) return {0, json::value(r.status().ToString())};
  boost::system::error_code ec;
  json::value body = json::parse(r->body, ec);
  return {r->status, ec ? json::value(r->body) : std::move(body)};
}

}  // namespace

Cluster::Cluster() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);
}

Cluster::~Cluster() {
  std::vector<cli::Child> children;
  for (Agent& a : agents_) {
    if (a.child.pid > 0) children.push_back(a.child);
  }
  cli::StopChildren(children, 10s);
  // A failed test shows what its agents said.
  if (::testing::Test::HasFailure()) {
    for (const Agent& a : agents_) {
      std::cerr << "---- " << a.id << "'s log (end) ----\n"
                << LogTail(a.dir + "/agent.log") << "\n";
    }
  }
}

Agent& Cluster::Start(const std::string& id, const std::string& seed, const Edit& edit,
                      std::vector<std::string> launcher) {
  Agent a;
  a.id = id;
  a.launcher = std::move(launcher);
  a.dir = dir_.Sub(id);
  std::filesystem::create_directories(a.dir);
  TestPki pki = MakeTestPki(dir_.path(), id);
  ca_file_ = pki.ca_file;
  a.config = TestCenterConfig(a.dir, pki, id);
  a.config.federation.gossip.round = 100ms;
  a.config.federation.gossip.anti_entropy = 300ms;
  a.config.federation.gossip.advert_ttl = 2s;
  a.config.federation.gossip.refresh = 500ms;
  if (!seed.empty()) a.config.federation.seeds = {seed};
  if (edit) edit(a.config);
  std::vector<std::string> ips;  // off loopback: the certificate must name the addresses
  for (const config::Listener* l : {&a.config.api, &a.config.peer}) {
    if (l->address != "127.0.0.1" && l->address != "::1") ips.push_back(l->address);
  }
  if (!ips.empty()) MakeTestPki(dir_.path(), id, ips);  // the same files, reissued
  a.config_path = a.dir + "/center.yaml";
  std::ofstream(a.config_path) << config::RenderCenterConfig(a.config);
  agents_.push_back(std::move(a));
  Launch(agents_.back());
  return agents_.back();
}

void Cluster::Launch(Agent& a) {
  std::vector<std::string> argv = a.launcher;
  argv.insert(argv.end(), {EDWC_BINARY, "agent", "--config", a.config_path});
  auto child = cli::Spawn(argv, a.dir + "/agent.log");
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  a.child = *child;
  auto ready = cli::AwaitLine(*child, "ready ", std::chrono::steady_clock::now() + 60s);
  ASSERT_TRUE(ready.ok()) << a.id << ": " << ready.status().ToString() << "\n"
                          << LogTail(a.dir + "/agent.log");
  a.api_url = Field(*ready, "api");
  a.peer_url = Field(*ready, "peer");
  a.epoch = std::stoull(Field(*ready, "epoch"));
  // A real center comes back on the address its peers know: later launches use the ports
  // this one was given (a seed with no seeds of its own relies on it to be found again).
  const auto port_of = [](const std::string& url) {
    return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  };
  if (a.config.api.port == 0 || a.config.peer.port == 0) {
    a.config.api.port = port_of(a.api_url);
    a.config.peer.port = port_of(a.peer_url);
    std::ofstream(a.config_path) << config::RenderCenterConfig(a.config);
  }
}

void Cluster::Restart(size_t i) { Launch(agents_[i]); }

void Cluster::Kill(size_t i) {
  Agent& a = agents_[i];
  if (a.child.pid <= 0) return;
  kill(a.child.pid, SIGKILL);
  waitpid(a.child.pid, nullptr, 0);
  close(a.child.stdout_fd);
  a.child.pid = -1;
}

std::map<std::string, std::string> Cluster::ViewOf(const Agent& viewer) const {
  std::map<std::string, std::string> out;
  auto [status, body] = Call(viewer, "GET", "/v1/centers", "", config::Role::kViewer);
  if (status != 200) return out;
  for (const auto& c : body.at("centers").as_array()) {
    out[std::string(c.at("id").as_string())] = std::string(c.at("liveness").as_string()) + "@" +
                                               std::to_string(c.at("epoch").to_number<int64_t>());
  }
  return out;
}

void Cluster::AwaitViews(const std::function<bool(const std::map<std::string, std::string>&)>& want,
                         const std::string& what) const {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (const Agent& a : agents_) {
      if (a.child.pid <= 0) continue;
      auto view = ViewOf(a);
      if (!want(view)) {
        all = false;
        last = a.id + " sees:";
        for (const auto& [id, state] : view) last += " " + id + "=" + state;
        break;
      }
    }
    if (all) return;
    // The views change on gossip rounds; polling the API is what a user does.
    std::this_thread::sleep_for(100ms);
  }
  FAIL() << "not every center saw " << what << "; last: " << last;
}

void Cluster::AwaitAllAlive() const {
  const size_t n = agents_.size();
  AwaitViews(
      [n](const std::map<std::string, std::string>& view) {
        if (view.size() != n) return false;
        for (const auto& [id, state] : view) {
          if (state.rfind("alive@", 0) != 0) return false;
        }
        return true;
      },
      "all " + std::to_string(n) + " alive");
}

std::pair<int, json::value> Cluster::Call(
    const Agent& agent, std::string_view method, std::string_view target, std::string_view body,
    config::Role role, const std::vector<std::pair<std::string, std::string>>& headers) const {
  auto client = gateway::HttpsClient::Create(agent.api_url, {ca_file_, "", "", false}, 20s);
  if (!client.ok()) return {0, json::value(client.status().ToString())};
  auto all = headers;
  all.emplace_back("authorization", "Bearer " + TokenFor(role));
  if (!body.empty()) all.emplace_back("content-type", "application/json");
  return Parsed((*client)->Request(method, target, body, all));
}

std::pair<int, json::value> Cluster::PeerCall(const Agent& agent, const std::string& as,
                                              std::string_view method, std::string_view target,
                                              std::string_view body) {
  auto it = client_pki_.find(as);
  if (it == client_pki_.end()) it = client_pki_.emplace(as, MakeTestPki(dir_.path(), as)).first;
  auto client = gateway::HttpsClient::Create(
      agent.peer_url, {ca_file_, it->second.cert_file, it->second.key_file, true}, 20s);
  if (!client.ok()) return {0, json::value(client.status().ToString())};
  return Parsed((*client)->Request(method, target, body, {{"content-type", "application/json"}}));
}

}  // namespace edwc::testing
