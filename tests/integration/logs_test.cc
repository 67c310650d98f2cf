// Agents that log JSON (`log: {format: json}`): every line of every agent's log parses
// with the keys docs/operations.md promises, and the request id a broker gives a job at
// its home center (X-Request-Id) names the log lines of the center that holds and runs
// it. `log` is applied without a restart.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "config/load.h"
#include "core/request_id.h"
#include "gateway/http_client.h"
#include "tests/integration/cluster.h"
#include "tests/integration/workload.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Cluster;

// The complete lines of an agent's log so far (a line being written is left for later).
std::vector<std::string> LogLines(const testing::Agent& agent) {
  std::ifstream in(agent.dir + "/agent.log");
  std::ostringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  all.erase(all.rfind('\n') == std::string::npos ? 0 : all.rfind('\n') + 1);
  std::vector<std::string> lines;
  std::istringstream split(all);
  for (std::string line; std::getline(split, line);) lines.push_back(line);
  return lines;
}

// The lines that are JSON objects (all of them, for an agent with log.format json).
std::vector<json::object> JsonLines(const testing::Agent& agent) {
  std::vector<json::object> out;
  for (const std::string& line : LogLines(agent)) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (!ec && v.is_object()) out.push_back(std::move(v.as_object()));
  }
  return out;
}

std::string Text(const json::object& line, std::string_view key) {
  const json::value* v = line.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}

// Every line is a JSON object with ts, level, center, component and msg.
void ExpectEveryLineIsJson(const testing::Agent& agent) {
  const std::vector<std::string> lines = LogLines(agent);
  EXPECT_FALSE(lines.empty()) << agent.id;
  const std::set<std::string> levels{"debug", "info", "warn", "error"};
  for (const std::string& line : lines) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    ASSERT_TRUE(!ec && v.is_object()) << agent.id << ": not a JSON object: " << line;
    const json::object& o = v.as_object();
    for (const char* key : {"ts", "level", "center", "component", "msg"}) {
      EXPECT_TRUE(o.contains(key) && o.at(key).is_string())
          << agent.id << ": no " << key << ": " << line;
    }
    EXPECT_EQ(Text(o, "center"), agent.id) << line;
    EXPECT_TRUE(levels.contains(Text(o, "level"))) << line;
    EXPECT_TRUE(Text(o, "ts").ends_with("Z")) << line;
    if (o.contains("request_id")) {
      EXPECT_TRUE(core::IsValidRequestId(Text(o, "request_id"))) << line;
    }
  }
}

// Polls `agent`'s log until a line satisfies `want` (fails after `within`).
json::object AwaitLine(const testing::Agent& agent,
                       const std::function<bool(const json::object&)>& want,
                       const std::string& what, std::chrono::seconds within = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    for (json::object& line : JsonLines(agent)) {
      if (want(line)) return std::move(line);
    }
    // The agent writes as it goes; reading the file again is the only way to see it.
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << agent.id << " never logged " << what;
  return {};
}

Cluster::Edit JsonLogs(Cluster::Edit capacity) {
  return [capacity](config::CenterConfig& c) {
    capacity(c);
    c.log.format = core::LogFormat::kJson;
  };
}

std::string_view HeaderOf(const gateway::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

TEST(LogsTest, AJobsRequestIdNamesTheHoldInTheLogOfTheCenterThatRunsIt) {
  Cluster cluster;
  // Only `target` has room for 4 devices: a job submitted at `home` goes there.
  cluster.Start("home", "", JsonLogs(testing::H20(1, 500)));
  cluster.Start("target", cluster[0].peer_url, JsonLogs(testing::H20(8, 500)));
  cluster.AwaitAllAlive();
  const testing::Agent& home = cluster[0];
  const testing::Agent& target = cluster[1];

  const std::string request_id = "test-" + core::NewRequestId();
  auto client = gateway::HttpsClient::Create(home.api_url, {cluster.ca_file(), "", "", false}, 20s);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto answer =
      (*client)->Request("POST", "/v1/jobs", testing::JobBody(4, "true"),
                         {{"authorization", "Bearer " + testing::TokenFor(config::Role::kBroker)},
                          {"content-type", "application/json"},
                          {"x-request-id", request_id}});
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_TRUE(answer->status == 201 || answer->status == 202) << answer->status << answer->body;
  EXPECT_EQ(HeaderOf(*answer, "x-request-id"), request_id);
  const std::string job = testing::Str(json::parse(answer->body), "id");
  const json::value ended = testing::AwaitEnd(cluster, home, job);
  EXPECT_EQ(testing::Str(ended, "state"), "succeeded") << json::serialize(ended);
  EXPECT_EQ(testing::Str(ended, "center"), "target") << json::serialize(ended);

  // At the target: the hold and its commit, asked for by `home`, under the broker's id.
  const auto access_at_target = [&](const std::string& route) {
    return [&, route](const json::object& line) {
      return Text(line, "component") == "access" && Text(line, "route") == route &&
             Text(line, "request_id") == request_id;
    };
  };
  json::object hold = AwaitLine(target, access_at_target("/peer/v1/holds"), "the hold");
  EXPECT_EQ(Text(hold, "peer"), "home");
  EXPECT_EQ(Text(hold, "method"), "POST");
  EXPECT_TRUE(hold.contains("status") && hold.at("status").is_int64());
  EXPECT_TRUE(hold.contains("duration_ms"));
  EXPECT_TRUE(Text(hold, "path").starts_with("/peer/v1/holds")) << json::serialize(hold);
  AwaitLine(target, access_at_target("/peer/v1/holds/{id}/commit"), "the commit");
  // At home: the broker's request itself.
  json::object submitted = AwaitLine(
      home,
      [&](const json::object& line) {
        return Text(line, "component") == "access" && Text(line, "route") == "/v1/jobs" &&
               Text(line, "method") == "POST" && Text(line, "request_id") == request_id;
      },
      "the submission");
  EXPECT_EQ(Text(submitted, "role"), "broker");
  EXPECT_EQ(submitted.at("status").as_int64(), answer->status);

  // A caller without an id (or with an unusable one) gets a fresh one back.
  auto anonymous = (*client)->Request("GET", "/healthz", "", {{"x-request-id", "not valid!"}});
  ASSERT_TRUE(anonymous.ok());
  const std::string fresh(HeaderOf(*anonymous, "x-request-id"));
  EXPECT_TRUE(core::IsValidRequestId(fresh)) << fresh;
  EXPECT_NE(fresh, "not valid!");
  auto missing = (*client)->Request("GET", "/v1/nowhere", "", {{"x-request-id", "lost-1"}});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(HeaderOf(*missing, "x-request-id"), "lost-1");

  for (const testing::Agent& a : cluster.agents()) ExpectEveryLineIsJson(a);
}

TEST(LogsTest, LogSettingsChangeWithoutARestart) {
  Cluster cluster;
  cluster.Start("solo", "", JsonLogs(testing::H20(1, 500)));
  testing::Agent& solo = cluster[0];
  auto client = gateway::HttpsClient::Create(solo.api_url, {cluster.ca_file(), "", "", false}, 20s);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const auto access_line_of = [&](const std::string& id) {
    for (const json::object& line : JsonLines(solo)) {
      if (Text(line, "component") == "access" && Text(line, "request_id") == id) return true;
    }
    return false;
  };
  // The access line is written before the answer is sent: once it is here, so is the line.
  ASSERT_TRUE((*client)->Request("GET", "/healthz", "", {{"x-request-id", "before"}}).ok());
  EXPECT_TRUE(access_line_of("before"));

  solo.config.log.access = false;
  std::ofstream(solo.config_path) << config::RenderCenterConfig(solo.config);
  ASSERT_EQ(kill(solo.child.pid, SIGHUP), 0);
  AwaitLine(
      solo,
      [](const json::object& line) {
        return Text(line, "msg").starts_with("config reloaded") &&
               Text(line, "msg").find("log") != std::string::npos;
      },
      "the reload of log");
  ASSERT_TRUE((*client)->Request("GET", "/healthz", "", {{"x-request-id", "after"}}).ok());
  EXPECT_FALSE(access_line_of("after")) << "log.access: false";
  ExpectEveryLineIsJson(solo);
}

}  // namespace
}  // namespace edwc
