#include "tests/integration/workload.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "gateway/http_client.h"

namespace edwc::testing {

namespace json = boost::json;

std::string Str(const json::value& v, std::string_view key) {
  const json::value* f = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  return f && f->is_string() ? std::string(f->as_string()) : "";
}

int64_t Int(const json::value& v, std::string_view key) {
  const json::value* f = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  return f && f->is_int64() ? f->as_int64() : -1;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }
void Sha256::Update(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }
std::string Sha256::Hex() {
  unsigned char digest[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, digest, &n);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string piece(1 << 20, '\0');
  Sha256 sha;
  while (in.read(piece.data(), static_cast<std::streamsize>(piece.size())) || in.gcount() > 0) {
    sha.Update(std::string_view(piece.data(), static_cast<size_t>(in.gcount())));
  }
  return sha.Hex();
}

// Uploads `size` pseudo-random bytes as `name` to `agent`; returns the SHA-256 sent.
std::string Put(const Cluster& cluster, const Agent& agent, const std::string& name, int64_t size,
                const std::string& query) {
  auto client =
      gateway::HttpsClient::Create(agent.api_url, {cluster.ca_file(), "", "", false}, 60s);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  if (!client.ok()) return "";
  uint64_t state = 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(size);
  int64_t left = size;
  Sha256 sha;
  auto read = [&](char* buffer, size_t max) -> core::Result<size_t> {
    const size_t n = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(max)));
    for (size_t i = 0; i < n; i += 8) {
      state += 0x9e3779b97f4a7c15ull;  // splitmix64
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::memcpy(buffer + i, &z, std::min<size_t>(8, n - i));
    }
    sha.Update(std::string_view(buffer, n));
    left -= static_cast<int64_t>(n);
    return n;
  };
  auto answer =
      (*client)->Upload("PUT", "/v1/datasets/" + name + query, size, read,
                        {{"authorization", "Bearer " + testing::TokenFor(config::Role::kBroker)}});
  EXPECT_TRUE(answer.ok()) << answer.status().ToString();
  if (!answer.ok()) return "";
  EXPECT_EQ(answer->status, 201) << answer->body;
  return sha.Hex();
}

std::string DatasetsDir(const Agent& agent) {
  return agent.config.datasets.dir.empty() ? agent.config.storage.path + ".datasets"
                                           : agent.config.datasets.dir;
}

// POST /v1/transfers at `home`; the transfer's id (empty on failure, with the answer).
std::pair<int, json::value> StartTransfer(const Cluster& cluster, const Agent& home,
                                          const std::string& dataset, const std::string& from,
                                          const std::string& to) {
  const std::string body =
      json::serialize(json::object{{"dataset", dataset}, {"from", from}, {"to", to}});
  return cluster.Call(home, "POST", "/v1/transfers", body, config::Role::kBroker,
                      {{"idempotency-key", "t-" + dataset + "-" + to}});
}

// Polls GET /v1/transfers/{id} at `home` until `until` holds (fails after `within`).
json::value AwaitTransfer(const Cluster& cluster, const Agent& home, const std::string& id,
                          const std::function<bool(const json::value&)>& until,
                          std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  json::value last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto [status, body] = cluster.Call(home, "GET", "/v1/transfers/" + id);
    if (status == 200) {
      last = body.at("transfer");
      if (until(last)) return last;
    }
    std::this_thread::sleep_for(20ms);  // a broker watching its transfer
  }
  ADD_FAILURE() << "transfer " << id << ": " << json::serialize(last);
  return last;
}

bool Ended(const json::value& t) {
  const std::string s = Str(t, "state");
  return s == "done" || s == "failed" || s == "cancelled";
}

// A counter from GET /metrics.
double Metric(const Cluster& cluster, const Agent& agent, const std::string& name) {
  auto client =
      gateway::HttpsClient::Create(agent.api_url, {cluster.ca_file(), "", "", false}, 10s);
  if (!client.ok()) return -1;
  auto r = (*client)->Request("GET", "/metrics");
  if (!r.ok()) return -1;
  const std::string needle = "\n" + name + " ";
  const size_t at = r->body.find(needle);
  return at == std::string::npos ? -1 : std::stod(r->body.substr(at + needle.size()));
}

// Every center sells h20 only, at `fen` per device-hour all day.
Cluster::Edit H20(int32_t count, int64_t fen) {
  return [count, fen](config::CenterConfig& c) {
    c.capacity.inventory = {{"h20", count}};
    c.pricing.models = {{"h20", core::PriceSchedule{core::Money::Fen(fen), {}}}};
  };
}

bool Terminal(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

// Polls GET /v1/jobs/{id} at `home` until the job ends (fails after `within`).
json::value AwaitEnd(const Cluster& cluster, const Agent& home, const std::string& id,
                     std::chrono::seconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  json::value last;
  while (std::chrono::steady_clock::now() < deadline) {
    auto [status, body] = cluster.Call(home, "GET", "/v1/jobs/" + id);
    if (status == 200) {
      last = body;
      if (Terminal(Str(body, "state"))) return body;
    }
    std::this_thread::sleep_for(100ms);  // a broker following its job
  }
  ADD_FAILURE() << "job " << id << " did not end: " << json::serialize(last);
  return last;
}

std::string JobBody(int count, const std::string& script, const std::string& extra) {
  json::object o{{"model", "h20"},
                 {"count", count},
                 {"duration_minutes", 10},
                 {"command", json::array{"sh", "-c", script}}};
  std::string text = json::serialize(o);
  if (!extra.empty()) text.insert(text.size() - 1, "," + extra);
  return text;
}

int RunEdwc(std::vector<std::string> args, const std::string& log, std::string* out,
            std::string* err) {
  args.insert(args.begin(), EDWC_BINARY);
  std::remove(log.c_str());
  auto child = cli::Spawn(args, log);
  EXPECT_TRUE(child.ok()) << child.status().ToString();
  if (!child.ok()) return -1;
  out->clear();
  char buf[4096];
  ssize_t n;
  while ((n = read(child->stdout_fd, buf, sizeof buf)) > 0)
    out->append(buf, static_cast<size_t>(n));
  close(child->stdout_fd);
  int status = 0;
  waitpid(child->pid, &status, 0);
  std::ifstream in(log);
  std::ostringstream text;
  text << in.rdbuf();
  *err = text.str();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace edwc::testing
