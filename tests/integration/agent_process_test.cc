// `edwc agent` as a process: --check, the ready line, graceful drain on SIGTERM, and the
// epoch that grows with every start.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/process.h"
#include "config/load.h"
#include "gateway/certs.h"
#include "gateway/http_client.h"
#include "tests/integration/workload.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

int RunEdwc(const testing::TempDir& dir, std::vector<std::string> args, std::string* out,
            std::string* err) {
  return testing::RunEdwc(std::move(args), dir.Sub("run.log"), out, err);
}

class AgentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::MakeTestPki(dir_.path(), "procenter");
    config_path_ = dir_.Sub("center.yaml");
    WriteText(config_path_, config::RenderCenterConfig(
                                testing::TestCenterConfig(dir_.path(), pki_, "procenter")));
  }
  testing::TempDir dir_;
  testing::TestPki pki_;
  std::string config_path_;
};

TEST_F(AgentProcessTest, CheckAcceptsAValidConfig) {
  std::string out, err;
  EXPECT_EQ(RunEdwc(dir_, {"agent", "--config", config_path_, "--check"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("ok: "), std::string::npos) << out;
  EXPECT_NE(out.find("procenter"), std::string::npos);
}

TEST_F(AgentProcessTest, CheckNamesFileLineAndKeyOfEveryProblem) {
  std::string text = testing::ReadText(config_path_);
  // Break two things: an unknown key and a bad port.
  const std::string bad = dir_.Sub("bad.yaml");
  WriteText(bad, "colour: blue\n" + text);
  std::string out, err;
  EXPECT_EQ(RunEdwc(dir_, {"agent", "--config", bad, "--check"}, &out, &err), 2);
  EXPECT_NE(err.find(bad + ":1:1: colour:"), std::string::npos) << err;
  EXPECT_EQ(RunEdwc(dir_, {"agent", "--config", dir_.Sub("missing.yaml"), "--check"}, &out, &err),
            2);
  EXPECT_NE(err.find("missing.yaml"), std::string::npos) << err;
}

TEST_F(AgentProcessTest, CheckRefusesACertificateOfAnotherCenter) {
  auto other = testing::MakeTestPki(dir_.path(), "elsewhere");
  auto c = testing::TestCenterConfig(dir_.path(), other, "procenter");
  WriteText(config_path_, config::RenderCenterConfig(c));
  std::string out, err;
  EXPECT_EQ(RunEdwc(dir_, {"agent", "--config", config_path_, "--check"}, &out, &err), 2);
  EXPECT_NE(err.find("elsewhere"), std::string::npos) << err;
}

TEST_F(AgentProcessTest, ServesThenDrainsOnSigtermAndBumpsTheEpoch) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);
  for (int run = 1; run <= 2; ++run) {
    auto child =
        cli::Spawn({EDWC_BINARY, "agent", "--config", config_path_}, dir_.Sub("agent.log"));
    ASSERT_TRUE(child.ok());
    auto ready = cli::AwaitLine(*child, "ready ", std::chrono::steady_clock::now() + 60s);
    ASSERT_TRUE(ready.ok()) << ready.status().ToString()
                            << testing::ReadText(dir_.Sub("agent.log"));
    EXPECT_NE(ready->find("center=procenter"), std::string::npos);
    EXPECT_NE(ready->find("epoch=" + std::to_string(run)), std::string::npos) << *ready;
    const std::string url = ready->substr(
        ready->find("api=") + 4, ready->find(' ', ready->find("api=")) - ready->find("api=") - 4);
    auto client = gateway::HttpsClient::Create(url, {pki_.ca_file, "", "", false});
    ASSERT_TRUE(client.ok());
    auto r = (*client)->Request(
        "GET", "/v1/centers", "",
        {{"authorization", "Bearer " + testing::TokenFor(config::Role::kViewer)}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    // SIGTERM with an idle keep-alive connection open: the drain closes it and exits 0.
    kill(child->pid, SIGTERM);
    std::vector<cli::Child> children{*child};
    int status = 0;
    ASSERT_EQ(waitpid(child->pid, &status, 0), child->pid);
    close(child->stdout_fd);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << testing::ReadText(dir_.Sub("agent.log"));
  }
  EXPECT_NE(testing::ReadText(dir_.Sub("agent.log")).find("stopped"), std::string::npos);
}

// promtool from Debian's prometheus package, unpacked (not installed) by
// scripts/install-deps; $EDWC_PROMTOOL overrides the path chosen at configure time.
std::string Promtool() {
  const char* env = std::getenv("EDWC_PROMTOOL");
  return env != nullptr && *env != '\0' ? env : EDWC_PROMTOOL;
}

TEST(MetricsTest, PromtoolAcceptsTheMetricsOfABusyAgent) {
  const std::string promtool = Promtool();
  ASSERT_EQ(access(promtool.c_str(), X_OK), 0)
      << "promtool not found at " << promtool
      << ": run EDWC_TEST_DEPS=1 scripts/install-deps (it unpacks Debian's prometheus package "
         "into build/tools) "
         "or set EDWC_PROMTOOL";
  testing::Cluster cluster;
  testing::Agent& agent = cluster.Start("metered", "");
  ASSERT_TRUE(agent.child.pid > 0);
  // Traffic for most families: reads, a miss, an upload and a refused request.
  EXPECT_EQ(cluster.Call(agent, "GET", "/v1/centers", "", config::Role::kViewer).first, 200);
  EXPECT_EQ(cluster.Call(agent, "GET", "/v1/no-such-route").first, 404);
  EXPECT_FALSE(testing::Put(cluster, agent, "sample", 3 << 20).empty());
  EXPECT_EQ(cluster.Call(agent, "POST", "/v1/jobs", "{").first, 400);

  auto client =
      gateway::HttpsClient::Create(agent.api_url, {cluster.ca_file(), "", "", false}, 10s);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto r = (*client)->Request("GET", "/metrics");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, 200);
  for (const char* family :
       {"edwc_http_requests_total", "edwc_http_request_duration_seconds", "edwc_holds", "edwc_jobs",
        "edwc_transfers", "edwc_adverts_accepted_total", "edwc_adverts_rejected_total",
        "edwc_settlements_issued_total", "edwc_settlements_agreed_total",
        "edwc_settlements_disputed_total", "edwc_dataset_bytes_received_total",
        "edwc_transfer_bytes_received_total"}) {
    EXPECT_NE(r->body.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }

  // `promtool check metrics` reads the exposition on stdin; problems go to stdout/stderr.
  testing::TempDir dir;
  const std::string in = dir.Sub("metrics.txt"), out = dir.Sub("promtool.out");
  std::ofstream(in) << r->body;
  const std::string command =
      "'" + promtool + "' check metrics < '" + in + "' > '" + out + "' 2>&1";
  const int rc = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
      << "promtool check metrics failed:\n"
      << testing::ReadText(out) << "\n--- /metrics:\n"
      << r->body;
  EXPECT_EQ(testing::ReadText(out), "") << "promtool lint findings";
}

}  // namespace
}  // namespace edwc

namespace edwc {
namespace {

TEST(CertsCommandTest, InitCaThenIssueACenterCertificate) {
  testing::TempDir dir;
  std::string out, err;
  const std::string ca = dir.Sub("ca");
  ASSERT_EQ(RunEdwc(dir, {"certs", "init-ca", "--dir", ca}, &out, &err), 0) << err;
  // A second init-ca must not silently replace the federation's CA.
  EXPECT_NE(RunEdwc(dir, {"certs", "init-ca", "--dir", ca}, &out, &err), 0);
  EXPECT_NE(err.find("already"), std::string::npos) << err;
  ASSERT_EQ(RunEdwc(dir,
                    {"certs", "issue", "--ca", ca, "--center", "wuhu", "--out", dir.Sub("wuhu"),
                     "--dns", "wuhu.example"},
                    &out, &err),
            0)
      << err;
  auto id = gateway::CenterIdFromCertificateFile(dir.Sub("wuhu/center.pem"));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "wuhu");
  EXPECT_EQ(
      RunEdwc(dir, {"certs", "issue", "--ca", ca, "--center", "Not_Valid", "--out", dir.Sub("bad")},
              &out, &err),
      2);
  EXPECT_EQ(RunEdwc(dir, {"certs", "issue", "--ca", ca, "--out", dir.Sub("x")}, &out, &err), 2);
  EXPECT_NE(err.find("--center"), std::string::npos) << err;
}

TEST(CliTest, UnknownCommandsAndOptionsAreNamed) {
  testing::TempDir dir;
  std::string out, err;
  EXPECT_EQ(RunEdwc(dir, {"frobnicate"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown command 'frobnicate'"), std::string::npos) << err;
  EXPECT_EQ(RunEdwc(dir, {"demo", "--centres", "3"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown option --centres"), std::string::npos) << err;
  EXPECT_EQ(RunEdwc(dir, {"demo", "--centers", "99"}, &out, &err), 2);
  EXPECT_EQ(RunEdwc(dir, {"version"}, &out, &err), 0);
  EXPECT_EQ(out.rfind("edwc ", 0), 0u) << out;
}

}  // namespace
}  // namespace edwc
