// `edwc demo` end to end, the way a new user and later tests drive it: start it, read
// demo.json, call GET /v1/centers with the viewer token, see the sample workload's jobs
// through the broker's API and CLI and its settlements in demo.json, stop it with SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "cli/process.h"
#include "config/load.h"
#include "gateway/http_client.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

json::object ReadDemoJson(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return json::parse(out.str()).as_object();
}

std::string Str(const json::value& v) { return std::string(v.as_string()); }

TEST(DemoTest, PrepareOnlyWritesLoadableConfigsAndAPrivateDemoJson) {
  testing::TempDir dir;
  const std::string demo_dir = dir.Sub("demo");
  auto child = cli::Spawn({EDWC_BINARY, "demo", "--prepare-only", "--centers", "3", "--dir",
                           demo_dir, "--base-port", "17400"},
                          dir.Sub("demo.log"));
  ASSERT_TRUE(child.ok());
  int status = 0;
  waitpid(child->pid, &status, 0);
  close(child->stdout_fd);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  struct stat st {};
  ASSERT_EQ(stat((demo_dir + "/demo.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "demo.json holds tokens";
  json::object doc = ReadDemoJson(demo_dir + "/demo.json");
  EXPECT_EQ(doc.at("version").to_number<int>(), 1);
  EXPECT_EQ(doc.at("running").as_bool(), false);
  for (const char* role : {"viewer", "broker", "finance", "operator"}) {
    EXPECT_FALSE(doc.at("tokens").at(role).as_string().empty()) << role;
  }
  const json::array& centers = doc.at("centers").as_array();
  ASSERT_EQ(centers.size(), 3u);
  EXPECT_EQ(Str(centers[0].at("id")), "zhongwei");
  EXPECT_EQ(Str(centers[0].at("api_url")), "https://127.0.0.1:17400");
  EXPECT_EQ(Str(centers[0].at("peer_url")), "https://127.0.0.1:17401");
  EXPECT_EQ(Str(centers[2].at("api_url")), "https://127.0.0.1:17404");
  for (const auto& c : centers) {
    auto config = config::LoadCenterConfig(Str(c.at("config")));
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    EXPECT_EQ(config->center.id, Str(c.at("id")));
    EXPECT_FALSE(config->capacity.inventory.empty());
  }
  // A second run keeps the tokens (scripts keep working) and the CA.
  const std::string viewer = Str(doc.at("tokens").at("viewer"));
  auto again =
      cli::Spawn({EDWC_BINARY, "demo", "--prepare-only", "--dir", demo_dir}, dir.Sub("demo.log"));
  ASSERT_TRUE(again.ok());
  waitpid(again->pid, &status, 0);
  close(again->stdout_fd);
  EXPECT_EQ(Str(ReadDemoJson(demo_dir + "/demo.json").at("tokens").at("viewer")), viewer);
}

// Runs `edwc <args...>` to its end; its stdout and exit status.
std::pair<std::string, int> RunCli(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {EDWC_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = cli::Spawn(argv, log);
  if (!child.ok()) return {child.status().ToString(), -1};
  std::string out;
  char buf[4096];
  ssize_t got;
  while ((got = read(child->stdout_fd, buf, sizeof buf)) > 0) out.append(buf, got);
  close(child->stdout_fd);
  int status = 0;
  waitpid(child->pid, &status, 0);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(DemoTest, ServesCentersRunsTheSampleWorkloadAndStopsOnSigterm) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  testing::TempDir dir;
  const std::string demo_dir = dir.Sub("demo");
  auto demo =
      cli::Spawn({EDWC_BINARY, "demo", "--centers", "3", "--base-port", "0", "--dir", demo_dir},
                 dir.Sub("demo.log"));
  ASSERT_TRUE(demo.ok());
  // The sample workload runs first: its jobs have ended when the demo says it is running.
  auto running =
      cli::AwaitLine(*demo, "edwc demo: running", std::chrono::steady_clock::now() + 150s);
  ASSERT_TRUE(running.ok()) << running.status().ToString();

  json::object doc = ReadDemoJson(demo_dir + "/demo.json");
  EXPECT_EQ(doc.at("running").as_bool(), true);
  const std::string ca = Str(doc.at("ca_file"));
  const std::string viewer = Str(doc.at("tokens").at("viewer"));
  std::vector<pid_t> agents;
  for (const auto& c : doc.at("centers").as_array()) {
    agents.push_back(static_cast<pid_t>(c.at("pid").to_number<int64_t>()));
    auto client = gateway::HttpsClient::Create(Str(c.at("api_url")), {ca, "", "", false});
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto r = (*client)->Request("GET", "/v1/centers", "", {{"authorization", "Bearer " + viewer}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200) << r->body;
    // Each center serves the whole federation, itself marked `self`.
    json::value v = json::parse(r->body);
    const json::array& view = v.at("centers").as_array();
    EXPECT_EQ(view.size(), 3u) << r->body;
    for (const auto& entry : view) {
      EXPECT_EQ(Str(entry.at("liveness")), "alive") << Str(entry.at("id"));
      EXPECT_EQ(entry.at("self").as_bool(), Str(entry.at("id")) == Str(c.at("id")));
    }
    auto anonymous = (*client)->Request("GET", "/v1/centers");
    ASSERT_TRUE(anonymous.ok());
    EXPECT_EQ(anonymous->status, 401);
  }
  ASSERT_EQ(agents.size(), 3u);

  // `edwc centers` prints the same view as a table, from the broker's home center.
  auto [table, centers_status] = RunCli({"centers", "--demo", demo_dir}, dir.Sub("centers.log"));
  EXPECT_EQ(centers_status, 0);
  for (const char* id : {"zhongwei", "qingpu*", "guian"}) {
    EXPECT_NE(table.find(id), std::string::npos) << table;
  }
  EXPECT_NE(table.find("alive"), std::string::npos) << table;

  // The sample broker sits at the eastern center; each job landed where it should and
  // ended: the cheapest h800 is Zhongwei's, the greenest Gui'an, the data is at Qingpu.
  EXPECT_EQ(Str(doc.at("home_center")), "qingpu");
  std::string home_url;
  for (const auto& c : doc.at("centers").as_array()) {
    if (c.as_object().contains("home")) home_url = Str(c.at("api_url"));
  }
  auto client = gateway::HttpsClient::Create(home_url, {ca, "", "", false});
  ASSERT_TRUE(client.ok());
  const std::string broker = Str(doc.at("tokens").at("broker"));
  auto jobs = (*client)->Request("GET", "/v1/jobs", "", {{"authorization", "Bearer " + broker}});
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->status, 200) << jobs->body;
  std::map<std::string, std::pair<std::string, std::string>> by_name;  // name -> state, center
  const json::value listed = json::parse(jobs->body);
  for (const auto& j : listed.at("jobs").as_array()) {
    by_name[Str(j.at("name"))] = {Str(j.at("state")), Str(j.at("center"))};
  }
  EXPECT_EQ(by_name.size(), 6u) << jobs->body;
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(by_name["llm-pretrain"], P("succeeded", "zhongwei"));
  EXPECT_EQ(by_name["urgent-finetune"], P("succeeded", "qingpu"));
  EXPECT_EQ(by_name["green-eval"], P("succeeded", "guian"));
  EXPECT_EQ(by_name["batch-inference"].first, "succeeded");
  EXPECT_EQ(by_name["broken-script"].first, "failed");
  // The job on a dataset ran where its data was moved (or stayed), and left its result.
  EXPECT_EQ(by_name["log-analytics"].first, "succeeded");
  EXPECT_NE(listed.as_object().at("jobs").as_array().size(), 0u);
  bool has_output = false;
  for (const auto& j : listed.at("jobs").as_array()) {
    if (Str(j.at("name")) == "log-analytics") has_output = j.as_object().contains("output");
  }
  EXPECT_TRUE(has_output) << jobs->body;
  // And the broker's CLI lists them.
  auto [list, list_status] = RunCli({"job", "list", "--demo", demo_dir}, dir.Sub("list.log"));
  EXPECT_EQ(list_status, 0) << list;
  EXPECT_NE(list.find("llm-pretrain"), std::string::npos) << list;

  // The work done away from home was settled before the demo said it is running: signed,
  // countersigned, chained; the nets balance and every chain verifies.
  ASSERT_TRUE(doc.contains("settlements")) << json::serialize(doc);
  const json::object& settled = doc.at("settlements").as_object();
  EXPECT_GE(settled.at("count").to_number<int64_t>(), 1) << json::serialize(settled);
  EXPECT_EQ(settled.at("sum_of_nets_fen").to_number<int64_t>(), 0) << json::serialize(settled);
  EXPECT_TRUE(settled.at("verified").as_bool()) << json::serialize(settled);
  EXPECT_TRUE(settled.at("exchanged").as_bool()) << json::serialize(settled);
  int64_t paid = 0;
  for (const auto& p : settled.at("payments").as_array()) {
    paid += p.at("amount_fen").to_number<int64_t>();
  }
  EXPECT_GT(paid, 0) << json::serialize(settled);

  kill(demo->pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(demo->pid, &status, 0), demo->pid);
  close(demo->stdout_fd);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  for (pid_t pid : agents) EXPECT_NE(kill(pid, 0), 0) << "agent " << pid << " still running";
  json::object stopped = ReadDemoJson(demo_dir + "/demo.json");
  EXPECT_EQ(stopped.at("running").as_bool(), false);
  EXPECT_TRUE(stopped.contains("settlements")) << "kept after the demo stops";
}

}  // namespace
}  // namespace edwc
