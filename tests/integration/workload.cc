#include "tests/integration/workload.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
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

std::string TransferBody(const std::string& dataset, const std::string& from,
                         const std::string& to) {
  return json::serialize(json::object{{"dataset", dataset}, {"from", from}, {"to", to}});
}

std::string TransferKey(const std::string& dataset, const std::string& to) {
  return "t-" + dataset + "-" + to;
}

// POST /v1/transfers at `home`; the transfer's id (empty on failure, with the answer).
std::pair<int, json::value> StartTransfer(const Cluster& cluster, const Agent& home,
                                          const std::string& dataset, const std::string& from,
                                          const std::string& to) {
  return cluster.Call(home, "POST", "/v1/transfers", TransferBody(dataset, from, to),
                      config::Role::kBroker, {{"idempotency-key", TransferKey(dataset, to)}});
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

std::string LoggedJobScript(const std::string& log, const std::string& seconds) {
  const std::string fields =
      " $EDWC_CENTER $EDWC_ROUTER $EDWC_ROUTER_JOB_ID $EDWC_JOB_ID "
      "$EDWC_DEVICES $(date +%s%N)\" >> " +
      log;
  return "echo \"start" + fields + "; sleep " + seconds + "; echo \"end" + fields;
}

std::vector<JobRun> ReadJobRuns(const std::string& log) {
  std::vector<JobRun> runs;
  std::map<std::string, std::vector<size_t>> open;  // hold -> runs without an end, in order
  std::ifstream in(log);
  std::string kind, devices;
  JobRun line;
  while (in >> kind >> line.center >> line.router >> line.job >> line.hold >> devices >>
         line.start_ns) {
    std::vector<size_t>& waiting = open[line.hold];
    if (kind == "end") {
      EXPECT_FALSE(waiting.empty()) << "an end of " << line.hold << " without a start";
      if (waiting.empty()) continue;
      runs[waiting.front()].end_ns = line.start_ns;
      waiting.erase(waiting.begin());
      continue;
    }
    line.devices.clear();
    std::stringstream split(devices);
    for (std::string d; std::getline(split, d, ',');) line.devices.push_back(d);
    waiting.push_back(runs.size());
    runs.push_back(line);
  }
  return runs;
}

size_t ExpectNoDeviceUsedTwice(const std::vector<JobRun>& runs, const std::string& center,
                               int total) {
  struct Event {
    int64_t ns;
    bool start;
    const JobRun* run;
  };
  std::vector<Event> events;
  for (const JobRun& r : runs) {
    if (r.center != center) continue;
    EXPECT_GE(r.end_ns, r.start_ns) << r.hold << " at " << center << " has no end";
    events.push_back({r.start_ns, true, &r});
    events.push_back({std::max(r.start_ns, r.end_ns), false, &r});
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.ns != b.ns ? a.ns < b.ns : !a.start;  // an end before a start at the same ns
  });
  std::map<std::string, const JobRun*> in_use;  // device -> the run using it
  size_t peak = 0;
  for (const Event& e : events) {
    for (const std::string& d : e.run->devices) {
      if (!e.start) {
        in_use.erase(d);
        continue;
      }
      EXPECT_LT(std::stoi(d), total) << "device " << d << " at " << center;
      auto [it, fresh] = in_use.emplace(d, e.run);
      EXPECT_TRUE(fresh) << "device " << d << " at " << center << " used twice at once: by "
                         << it->second->hold << " and " << e.run->hold;
    }
    peak = std::max(peak, in_use.size());
  }
  return peak;
}

std::map<std::string, json::object> Settlements(const Cluster& cluster, const Agent& agent,
                                                int limit) {
  std::map<std::string, json::object> out;
  std::string after;
  for (;;) {
    auto [status, body] = cluster.Call(
        agent, "GET",
        "/v1/settlements?limit=" + std::to_string(limit) + (after.empty() ? "" : "&after=" + after),
        "", config::Role::kFinance);
    EXPECT_EQ(status, 200) << json::serialize(body);
    if (status != 200) return out;
    for (const json::value& s : body.at("settlements").as_array()) {
      const std::string id = Str(s, "id");
      EXPECT_FALSE(out.count(id)) << agent.id << " lists " << id << " twice";
      out[id] = s.as_object();
    }
    after = Str(body, "next");
    if (after.empty()) return out;
  }
}

void ExpectSameOnBothSides(const std::map<std::string, json::object>& a,
                           const std::map<std::string, json::object>& b, const std::string& a_id,
                           const std::string& b_id) {
  for (const auto& [id, s] : a) {
    if (Str(s, "counterparty") != b_id) continue;
    auto it = b.find(id);
    ASSERT_NE(it, b.end()) << id << " is at " << a_id << " only";
    EXPECT_EQ(Str(s, "hash"), Str(it->second, "hash")) << id;
    EXPECT_EQ(Int(s, "amount_fen"), Int(it->second, "amount_fen")) << id;
    EXPECT_EQ(Str(s, "state"), Str(it->second, "state")) << id;
    EXPECT_NE(Str(s, "direction"), Str(it->second, "direction")) << id;
  }
}

void ExpectChainsVerify(const Cluster& cluster, const Agent& agent) {
  auto [status, body] = cluster.Call(agent, "GET", "/v1/ledger/verify", "", config::Role::kFinance);
  ASSERT_EQ(status, 200) << json::serialize(body);
  EXPECT_TRUE(body.at("ok").as_bool()) << agent.id << ": " << json::serialize(body);
}

int64_t TotalNet(const Cluster& cluster, const Agent& agent) {
  auto [status, body] = cluster.Call(agent, "GET", "/v1/balances", "", config::Role::kFinance);
  EXPECT_EQ(status, 200) << json::serialize(body);
  return status == 200 ? Int(body.at("total"), "net_fen") : 0;
}

json::value ExpectNetsToZero(const Cluster& cluster, const std::vector<Agent>& agents,
                             const Agent& via, std::map<std::string, int64_t>* net) {
  int64_t sum = 0;
  for (const Agent& a : agents) sum += (*net)[a.id] = TotalNet(cluster, a);
  EXPECT_EQ(sum, 0);
  auto [status, netting] = cluster.Call(via, "GET", "/v1/netting", "", config::Role::kFinance);
  EXPECT_EQ(status, 200) << json::serialize(netting);
  if (status != 200) return nullptr;
  EXPECT_EQ(Int(netting, "sum_fen"), 0);
  EXPECT_TRUE(netting.at("unreachable").as_array().empty()) << json::serialize(netting);
  for (const json::value& c : netting.at("centers").as_array()) {
    EXPECT_EQ(Int(c, "position_fen"), (*net)[Str(c, "center")]) << json::serialize(c);
  }
  return netting;
}

std::pair<int, std::string> Download(const Cluster& cluster, const Agent& agent,
                                     const std::string& name) {
  auto client =
      gateway::HttpsClient::Create(agent.api_url, {cluster.ca_file(), "", "", false}, 60s);
  if (!client.ok()) return {0, client.status().ToString()};
  auto got = (*client)->Request("GET", "/v1/datasets/" + name, "",
                                {{"authorization", "Bearer " + TokenFor(config::Role::kBroker)}});
  if (!got.ok()) return {0, got.status().ToString()};
  return {got->status, std::move(got->body)};
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
