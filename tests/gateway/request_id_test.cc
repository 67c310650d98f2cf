// Request ids through the gateway's seams: the router adopts or makes one, answers with
// it, runs the handler and writes the access line under it; the worker pool carries it
// to its threads.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "core/log.h"
#include "core/request_id.h"
#include "gateway/auth.h"
#include "gateway/http_server.h"
#include "gateway/io_runtime.h"
#include "gateway/peer_client.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

namespace json = boost::json;

// Sends what the process writes to stderr into a file for the scope's duration.
class CapturedStderr {
 public:
  explicit CapturedStderr(const std::string& path) : path_(path) {
    fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() { Restore(); }
  // Stops capturing; every line written meanwhile.
  std::vector<std::string> Lines() {
    Restore();
    std::ifstream in(path_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

std::string_view HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

class RouterRequestIdTest : public ::testing::Test {
 protected:
  RouterRequestIdTest()
      : auth_(testing::TestCenterConfig(dir_.path(), testing::TestPki{}).tokens),
        router_(&auth_, nullptr) {
    router_.Add("GET", "/v1/things/{id}", Access::Roles({config::Role::kViewer}),
                [this](HttpRequest&, const RouteContext&, Respond respond) {
                  seen_in_handler_ = std::string(core::CurrentRequestId());
                  // Answered from another thread, as after a durable write.
                  std::thread([respond] { respond(HttpResponse::Json(200, "{}")); }).join();
                });
    core::ConfigureLog({core::LogFormat::kJson, core::LogLevel::kInfo, true}, "testcenter");
  }
  ~RouterRequestIdTest() override { core::ConfigureLog(core::LogSettings{}, ""); }

  HttpResponse Send(std::string method, std::string target,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.headers = std::move(headers);
    std::promise<HttpResponse> answered;
    router_.Dispatch(request, [&](HttpResponse r) { answered.set_value(std::move(r)); });
    return answered.get_future().get();
  }
  static std::pair<std::string, std::string> Viewer() {
    return {"authorization", "Bearer " + testing::TokenFor(config::Role::kViewer)};
  }

  testing::TempDir dir_;
  Authenticator auth_;
  Router router_;
  std::string seen_in_handler_;
};

TEST_F(RouterRequestIdTest, AValidCallerIdIsAdoptedCurrentInTheHandlerAndEchoed) {
  HttpResponse r = Send("GET", "/v1/things/1", {Viewer(), {"x-request-id", "test-abc.1:x_Y"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "x-request-id"), "test-abc.1:x_Y");
  EXPECT_EQ(seen_in_handler_, "test-abc.1:x_Y");
  EXPECT_EQ(core::CurrentRequestId(), "") << "the scope ends with Dispatch";
}

TEST_F(RouterRequestIdTest, AMissingOrInvalidIdIsReplacedByANewOne) {
  for (std::string bad :
       std::vector<std::string>{"", "has space", std::string(65, 'x'), "semi;colon"}) {
    std::vector<std::pair<std::string, std::string>> headers{Viewer()};
    if (!bad.empty()) headers.emplace_back("x-request-id", bad);
    HttpResponse r = Send("GET", "/v1/things/1", headers);
    const std::string id(HeaderOf(r, "x-request-id"));
    EXPECT_EQ(id.size(), 16u) << bad;
    EXPECT_TRUE(core::IsValidRequestId(id)) << id;
    EXPECT_EQ(seen_in_handler_, id);
  }
  EXPECT_NE(HeaderOf(Send("GET", "/v1/things/1", {Viewer()}), "x-request-id"),
            HeaderOf(Send("GET", "/v1/things/1", {Viewer()}), "x-request-id"));
}

TEST_F(RouterRequestIdTest, ErrorsCarryTheIdToo) {
  HttpResponse not_found = Send("GET", "/v1/nothing", {{"x-request-id", "e404"}});
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(HeaderOf(not_found, "x-request-id"), "e404");
  HttpResponse not_allowed = Send("POST", "/v1/things/1", {{"x-request-id", "e405"}});
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_EQ(HeaderOf(not_allowed, "x-request-id"), "e405");
  HttpResponse no_token = Send("GET", "/v1/things/1", {{"x-request-id", "e401"}});
  EXPECT_EQ(no_token.status, 401);
  EXPECT_EQ(HeaderOf(no_token, "x-request-id"), "e401");
}

TEST_F(RouterRequestIdTest, EachAnswerWritesOneAccessLine) {
  CapturedStderr captured(dir_.Sub("stderr"));
  Send("GET", "/v1/things/42?x=1", {Viewer(), {"x-request-id", "acc-1"}});
  Send("GET", "/v1/nothing", {{"x-request-id", "acc-2"}});
  core::ConfigureLog({core::LogFormat::kJson, core::LogLevel::kInfo, false}, "testcenter");
  Send("GET", "/v1/things/42", {Viewer(), {"x-request-id", "acc-3"}});
  std::vector<json::object> access;
  for (const std::string& line : captured.Lines()) {
    json::object o = json::parse(line).as_object();
    if (o.at("component") == "access") access.push_back(std::move(o));
  }
  ASSERT_EQ(access.size(), 2u) << "none once log.access is false";
  const json::object& ok = access[0];
  EXPECT_EQ(ok.at("request_id"), "acc-1");
  EXPECT_EQ(ok.at("center"), "testcenter");
  EXPECT_EQ(ok.at("level"), "info");
  EXPECT_EQ(ok.at("method"), "GET");
  EXPECT_EQ(ok.at("route"), "/v1/things/{id}");
  EXPECT_EQ(ok.at("path"), "/v1/things/42");
  EXPECT_EQ(ok.at("status"), 200);
  EXPECT_GE(ok.at("duration_ms").as_double(), 0.0);
  EXPECT_EQ(ok.at("bytes_out"), 2);
  EXPECT_EQ(ok.at("role"), "viewer");
  EXPECT_FALSE(ok.contains("peer"));
  const json::object& missing = access[1];
  EXPECT_EQ(missing.at("request_id"), "acc-2");
  EXPECT_EQ(missing.at("route"), "unmatched");
  EXPECT_EQ(missing.at("status"), 404);
  EXPECT_FALSE(missing.contains("role"));
}

TEST_F(RouterRequestIdTest, PeerCallersAreNamedInTheAccessLine) {
  router_.Add("POST", "/peer/v1/holds", Access::Public(),
              [](HttpRequest&, const RouteContext&, Respond respond) {
                respond(HttpResponse::Json(201, "{\"ok\":true}"));
              });
  CapturedStderr captured(dir_.Sub("stderr"));
  HttpRequest request;
  request.method = "POST";
  request.target = "/peer/v1/holds";
  request.peer_center = "qingpu";
  request.headers = {{"x-request-id", "from-qingpu"}};
  HttpResponse answer;
  router_.Dispatch(request, [&](HttpResponse r) { answer = std::move(r); });
  EXPECT_EQ(HeaderOf(answer, "x-request-id"), "from-qingpu");
  bool found = false;
  for (const std::string& line : captured.Lines()) {
    json::object o = json::parse(line).as_object();
    if (o.at("component") != "access") continue;
    found = true;
    EXPECT_EQ(o.at("peer"), "qingpu");
    EXPECT_EQ(o.at("request_id"), "from-qingpu");
    EXPECT_EQ(o.at("status"), 201);
  }
  EXPECT_TRUE(found);
}

TEST_F(RouterRequestIdTest, RoutineSuccessesLogAtDebugTheirErrorsAtInfoServerErrorsAtWarn) {
  int status = 200;
  router_.Add("POST", "/peer/v1/gossip", Access::Public(),
              [&status](HttpRequest&, const RouteContext&, Respond respond) {
                respond(HttpResponse::Json(status, "{}"));
              });
  router_.MarkRoutine("POST", "/peer/v1/gossip");
  CapturedStderr captured(dir_.Sub("stderr"));
  for (int s : {200, 400, 503}) {
    status = s;
    Send("POST", "/peer/v1/gossip", {{"x-request-id", "g" + std::to_string(s)}});
  }
  core::ConfigureLog({core::LogFormat::kJson, core::LogLevel::kDebug, true}, "testcenter");
  status = 200;
  Send("POST", "/peer/v1/gossip", {{"x-request-id", "g200-debug"}});
  std::map<std::string, std::string> level_of;
  for (const std::string& line : captured.Lines()) {
    json::object o = json::parse(line).as_object();
    if (o.at("component") == "access") {
      level_of[std::string(o.at("request_id").as_string())] = o.at("level").as_string();
    }
  }
  EXPECT_EQ(level_of, (std::map<std::string, std::string>{
                          {"g400", "info"}, {"g503", "warn"}, {"g200-debug", "debug"}}))
      << "a routine success is not written at level info";
}

TEST(WorkerPoolRequestIdTest, TasksRunUnderTheIdCurrentWhenPosted) {
  WorkerPool pool(2);
  std::promise<std::string> first, nested, none;
  {
    core::ScopedRequestId scope("job-42");
    pool.Post([&] {
      first.set_value(std::string(core::CurrentRequestId()));
      // Work a task hands on keeps the id as well.
      pool.Post([&] { nested.set_value(std::string(core::CurrentRequestId())); });
    });
  }
  pool.Post([&] { none.set_value(std::string(core::CurrentRequestId())); });
  EXPECT_EQ(first.get_future().get(), "job-42");
  EXPECT_EQ(nested.get_future().get(), "job-42");
  EXPECT_EQ(none.get_future().get(), "") << "a task posted outside a request has no id";
  std::promise<std::string> after;
  pool.Post([&] { after.set_value(std::string(core::CurrentRequestId())); });
  EXPECT_EQ(after.get_future().get(), "") << "a worker thread does not keep an old id";
}

// The peer client sends the caller's id as X-Request-Id and runs the callback under it.
TEST(PeerClientRequestIdTest, TheIdTravelsWithTheCallAndComesBackInTheCallback) {
  using namespace std::chrono_literals;
  testing::TempDir dir;
  const testing::TestPki alpha = testing::MakeTestPki(dir.path(), "alpha");
  const testing::TestPki beta = testing::MakeTestPki(dir.path(), "beta");
  IoRuntime server_runtime(1), client_runtime(1);
  ServerSettings settings;
  settings.tls = {alpha.cert_file, alpha.key_file, alpha.ca_file, /*require_client_cert=*/true};
  HttpServer server(
      server_runtime, settings,
      [](HttpRequest& req, Respond respond) {
        respond(HttpResponse::Json(200, "\"" + std::string(req.Header("x-request-id")) + "\""));
      },
      nullptr);
  auto port = server.Listen();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  server_runtime.Start();
  client_runtime.Start();
  auto client = HttpsPeerClient::Create(
      client_runtime, {beta.ca_file, beta.cert_file, beta.key_file}, PeerClientOptions{}, nullptr);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const std::string url = "https://127.0.0.1:" + std::to_string(*port);

  // What the server saw, and the request id current in the callback.
  const auto call = [&](bool post) {
    auto done = std::make_shared<std::promise<std::pair<std::string, std::string>>>();
    auto future = done->get_future();
    PeerCallback callback = [done](core::Result<PeerResponse> r) {
      done->set_value(
          {r.ok() ? r->body : r.status().ToString(), std::string(core::CurrentRequestId())});
    };
    if (post) {
      (*client)->Post(url, "/peer/v1/test", "{}", true, std::move(callback));
    } else {
      (*client)->Get(url, "/peer/v1/test", true, std::move(callback));
    }
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    return future.get();
  };
  {
    core::ScopedRequestId scope("peer-abc");
    EXPECT_EQ(call(true), std::make_pair(std::string("\"peer-abc\""), std::string("peer-abc")));
  }
  {
    core::ScopedRequestId scope("peer-get");
    EXPECT_EQ(call(false), std::make_pair(std::string("\"peer-get\""), std::string("peer-get")));
  }
  EXPECT_EQ(call(true), std::make_pair(std::string("\"\""), std::string()))
      << "no header and no id outside a request";

  (*client)->Shutdown();
  client->reset();
  auto drained = std::make_shared<std::promise<void>>();
  server.Drain([drained] { drained->set_value(); });
  EXPECT_EQ(drained->get_future().wait_for(5s), std::future_status::ready);
  server_runtime.Stop();
  server_runtime.Join();
  client_runtime.Stop();
  client_runtime.Join();
}

}  // namespace
}  // namespace edwc::gateway
