#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "executor/slurm_capacity.h"

namespace edwc::executor {
namespace {

// GET /slurm/v0.0.38/nodes from the real slurmrestd 22.05.8 that scripts/slurm-env starts
// (Debian 12), with jobs holding gpu:a100:3 and gpu:h800:1 running; recorded verbatim.
constexpr std::string_view kRecordedNodes = R"json({
  "meta": {
    "plugin": {
      "type": "openapi\/v0.0.38",
      "name": "Slurm OpenAPI v0.0.38"
    },
    "Slurm": {
      "version": {
        "major": 22,
        "micro": 8,
        "minor": 5
      },
      "release": "22.05.8"
    }
  },
  "errors": [
  ],
  "nodes": [
    {
      "architecture": "x86_64",
      "burstbuffer_network_address": "",
      "boards": 1,
      "boot_time": 1795735184,
      "comment": "",
      "cores": 1,
      "cpu_binding": 0,
      "cpu_load": 59,
      "extra": "",
      "free_memory": 23134,
      "cpus": 2,
      "last_busy": 1795738422,
      "features": "",
      "active_features": "",
      "gres": "gpu:a100:8,gpu:h800:4",
      "gres_drained": "N\/A",
      "gres_used": "gpu:a100:3(IDX:0-2),gpu:h800:1(IDX:8)",
      "mcs_label": "",
      "name": "vm",
      "next_state_after_reboot": "invalid",
      "address": "127.0.0.1",
      "hostname": "vm",
      "state": "allocated",
      "state_flags": [
      ],
      "next_state_after_reboot_flags": [
      ],
      "operating_system": "Linux 6.18.44-fc-v509 #1 SMP PREEMPT_DYNAMIC @0",
      "owner": null,
      "partitions": [
        "test"
      ],
      "port": 23542,
      "real_memory": 512,
      "reason": "",
      "reason_changed_at": 0,
      "reason_set_by_user": null,
      "slurmd_start_time": 1795738422,
      "sockets": 2,
      "threads": 1,
      "temporary_disk": 0,
      "weight": 1,
      "tres": "cpu=2,mem=512M,billing=2",
      "slurmd_version": "22.05.8",
      "alloc_memory": 0,
      "alloc_cpus": 2,
      "idle_cpus": 0,
      "tres_used": "cpu=2",
      "tres_weighted": 2.0
    }
  ]
})json";

// The same slurmrestd's answer while slurmctld was down (HTTP 500).
constexpr std::string_view kRecordedError = R"json({
  "meta": {
    "plugin": {
      "type": "openapi\/v0.0.38",
      "name": "Slurm OpenAPI v0.0.38"
    },
    "Slurm": {
      "version": {
        "major": 22,
        "micro": 8,
        "minor": 5
      },
      "release": "22.05.8"
    }
  },
  "errors": [
    {
      "error": "Unspecified error",
      "errno": -1
    }
  ],
  "nodes": [
  ]
})json";

const std::vector<std::pair<std::string, std::string>> kModels = {{"a100", "a100-80g"},
                                                                  {"h800", "h800"}};

std::string Replace(std::string_view text, std::string_view from, std::string_view to) {
  std::string s(text);
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(ParseGresGpusTest, TypedCountsWithSocketAndIndexSuffixes) {
  auto r = ParseGresGpus("gpu:a100:8,gpu:h800:4(S:0)", "gres");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].type, "a100");
  EXPECT_EQ((*r)[0].count, 8);
  EXPECT_EQ((*r)[1].type, "h800");
  EXPECT_EQ((*r)[1].count, 4);

  r = ParseGresGpus("gpu:a100:2(IDX:0-1),gpu:h800:0(IDX:N/A)", "gres_used");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].count, 2);
  EXPECT_EQ((*r)[1].count, 0);
}

TEST(ParseGresGpusTest, CommasInsideIndexListsDoNotSplit) {
  auto r =
      ParseGresGpus("gpu:a100:3(IDX:0-1,4),gpu:h800:1(IDX:8),gpu:(null):0(IDX:N/A)", "gres_used");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].count, 3);
  EXPECT_EQ((*r)[1].type, "h800");
  EXPECT_EQ((*r)[2].type, "");
}

TEST(ParseGresGpusTest, UntypedAndOtherNames) {
  auto r = ParseGresGpus("gpu:2,mps:400,gpu,gpu:(null):1,shard:a100:8", "gres");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].type, "");
  EXPECT_EQ((*r)[0].count, 2);
  EXPECT_EQ((*r)[1].count, 1);  // bare "gpu" is one
  EXPECT_EQ((*r)[2].type, "");  // "(null)" type is untyped
}

TEST(ParseGresGpusTest, EmptyForms) {
  for (std::string_view empty : {"", "(null)", "N/A"}) {
    auto r = ParseGresGpus(empty, "gres");
    ASSERT_TRUE(r.ok()) << empty;
    EXPECT_TRUE(r->empty()) << empty;
  }
}

TEST(ParseGresGpusTest, MalformedIsCorruptionNamingTheField) {
  for (std::string_view bad : {"gpu:a100:x", "gpu:a100:8(S:0", "gpu:a:b:1", ":3", "gpu:a100:-1",
                               "gpu:a100:8)", "gpu:a100:2(IDX:0)x"}) {
    auto r = ParseGresGpus(bad, "nodes[0].gres");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), core::Code::kCorruption) << bad;
    EXPECT_EQ(r.status().field(), "nodes[0].gres") << bad;
  }
}

TEST(SlurmNodesTest, RecordedAnswerGivesTotalsAndUsedPerModel) {
  auto r = CapacityFromSlurmNodes(kRecordedNodes, kModels);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->models.size(), 2u);
  EXPECT_EQ(r->models[0].model, "a100-80g");
  EXPECT_EQ(r->models[0].total, 8);
  EXPECT_EQ(r->models[0].used, 3);
  EXPECT_EQ(r->models[1].model, "h800");
  EXPECT_EQ(r->models[1].total, 4);
  EXPECT_EQ(r->models[1].used, 1);
  EXPECT_TRUE(r->ignored_types.empty());
  EXPECT_EQ(r->unavailable_nodes, 0);
}

TEST(SlurmNodesTest, UnmappedTypesAreIgnoredAndReported) {
  auto r = CapacityFromSlurmNodes(kRecordedNodes, {{"h800", "h800"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->models.size(), 1u);
  EXPECT_EQ(r->models[0].model, "h800");
  EXPECT_EQ(r->ignored_types, std::vector<std::string>{"a100"});
}

TEST(SlurmNodesTest, ConfiguredModelsWithoutNodesAreListedEmpty) {
  auto r = CapacityFromSlurmNodes(kRecordedNodes, {{"a100", "a100-80g"}, {"h20", "h20"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->models.size(), 2u);
  EXPECT_EQ(r->models[1].model, "h20");
  EXPECT_EQ(r->models[1].total, 0);
}

TEST(SlurmNodesTest, TypesMappedToOneModelAddUp) {
  auto r = CapacityFromSlurmNodes(kRecordedNodes, {{"a100", "h800"}, {"h800", "h800"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->models.size(), 1u);
  EXPECT_EQ(r->models[0].total, 12);
  EXPECT_EQ(r->models[0].used, 4);
}

TEST(SlurmNodesTest, DrainedOrDownNodesCountAllTheirGpusAsUsed) {
  // As slurmrestd showed after `scontrol update state=drain` and `state=down`.
  for (auto [state, flags] : {std::pair{"mixed", "\"DRAIN\""}, std::pair{"down", "\"DRAIN\""},
                              std::pair{"down", ""}, std::pair{"idle", "\"NOT_RESPONDING\""}}) {
    std::string body = Replace(kRecordedNodes, "\"state\": \"allocated\"",
                               std::string("\"state\": \"") + state + "\"");
    body = Replace(body, "\"state_flags\": [\n      ]",
                   std::string("\"state_flags\": [") + flags + "]");
    auto r = CapacityFromSlurmNodes(body, kModels);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->unavailable_nodes, 1) << state << flags;
    EXPECT_EQ(r->models[0].used, 8) << state << flags;
    EXPECT_EQ(r->models[1].used, 4) << state << flags;
    EXPECT_EQ(r->models[1].total, 4) << state << flags;
  }
}

TEST(SlurmNodesTest, ErrorsArrayIsUnavailable) {
  auto r = CapacityFromSlurmNodes(kRecordedError, kModels);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("Unspecified error"), std::string::npos);
}

TEST(SlurmNodesTest, MalformedIsCorruptionNamingTheField) {
  struct Case {
    std::string body;
    std::string field;
  };
  std::vector<Case> cases = {
      {"{", "body"},
      {"[]", "body"},
      {"{\"errors\":[]}", "nodes"},
      {"{\"nodes\":[1]}", "nodes[0]"},
      {Replace(kRecordedNodes, "\"gres\": \"gpu:a100:8,", "\"gres\": \"gpu:a100:x,"),
       "nodes[0].gres"},
      {Replace(kRecordedNodes, "\"gres_used\": \"gpu:a100:3", "\"gres_used\": 3, \"x\": \"3"),
       "nodes[0].gres_used"},
      {Replace(kRecordedNodes, "\"state\": \"allocated\"", "\"state\": 1"), "nodes[0].state"},
  };
  for (const Case& c : cases) {
    auto r = CapacityFromSlurmNodes(c.body, kModels);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), core::Code::kCorruption) << c.field;
    EXPECT_EQ(r.status().field(), c.field) << r.status().ToString();
  }
}

// A one-response-per-connection server on a unix socket in a fresh temporary directory,
// standing in for slurmrestd to exercise the HTTP client's edges.
class FakeRest {
 public:
  explicit FakeRest(std::string response) : response_(std::move(response)) {
    char tmpl[] = "/tmp/edwc-slurm-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/rest.sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeRest() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  int requests() const { return requests_; }
  std::string last_request() const { return last_request_; }

 private:
  void Serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      last_request_ = request;
      ++requests_;
      if (!response_.empty()) {
        EXPECT_EQ(::write(c, response_.data(), response_.size()),
                  static_cast<ssize_t>(response_.size()));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(600));  // never answers in time
      }
      ::close(c);
    }
  }

  std::string response_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::string last_request_;
  std::thread thread_;
};

std::string Http(std::string_view status, std::string_view body) {
  return "HTTP/1.1 " + std::string(status) + "\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

SlurmCapacityOptions Options(const std::string& socket) {
  SlurmCapacityOptions o;
  o.socket_path = socket;
  o.refresh = std::chrono::hours(1);  // only the first read in MakeSlurmCapacity
  o.io_timeout = std::chrono::milliseconds(300);
  o.gres_models = kModels;
  return o;
}

TEST(SlurmHttpTest, ReadsTheNodesOverTheUnixSocket) {
  FakeRest rest(Http("200 OK", kRecordedNodes));
  auto source = MakeSlurmCapacity(Options(rest.path()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_TRUE(rest.last_request().starts_with("GET /slurm/v0.0.38/nodes HTTP/1.1\r\n"));
  EXPECT_NE(rest.last_request().find("Connection: close"), std::string::npos);
  auto r = (*source)->Read();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].used, 3);
}

TEST(SlurmHttpTest, ChunkedBodies) {
  std::string body(kRecordedNodes);
  std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += 500) {
    std::string part = body.substr(at, 500);
    char size[16];
    std::snprintf(size, sizeof(size), "%zx", part.size());
    chunked += std::string(size) + "\r\n" + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  FakeRest rest(chunked);
  auto source = MakeSlurmCapacity(Options(rest.path()));
  ASSERT_TRUE(source.ok()) << source.status().ToString();
}

TEST(SlurmHttpTest, HttpErrorsAreUnavailableWithTheReason) {
  FakeRest rest(Http("401 UNAUTHORIZED", "Authentication failure"));
  auto source = MakeSlurmCapacity(Options(rest.path()));
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), core::Code::kUnavailable);
  EXPECT_NE(source.status().message().find(rest.path()), std::string::npos);
  EXPECT_NE(source.status().message().find("HTTP 401: Authentication failure"), std::string::npos)
      << source.status().ToString();
}

TEST(SlurmHttpTest, SlurmctldDownIsUnavailable) {
  FakeRest rest(Http("500 INTERNAL ERROR", kRecordedError));
  auto source = MakeSlurmCapacity(Options(rest.path()));
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), core::Code::kUnavailable);
}

TEST(SlurmHttpTest, GarbageIsCorruption) {
  FakeRest rest("SSH-2.0-OpenSSH\r\n\r\n");
  auto source = MakeSlurmCapacity(Options(rest.path()));
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), core::Code::kCorruption) << source.status().ToString();
}

TEST(SlurmHttpTest, TruncatedBodyIsCorruption) {
  std::string response = Http("200 OK", kRecordedNodes);
  response.resize(response.size() - 10);
  FakeRest rest(response);
  auto source = MakeSlurmCapacity(Options(rest.path()));
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), core::Code::kCorruption) << source.status().ToString();
}

TEST(SlurmHttpTest, SilentServerTimesOut) {
  FakeRest rest("");
  auto start = std::chrono::steady_clock::now();
  auto source = MakeSlurmCapacity(Options(rest.path()));
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), core::Code::kUnavailable);
  EXPECT_NE(source.status().message().find("timed out"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(550));
}

TEST(SlurmHttpTest, ReadKeepsTheLastSnapshotUntilRefreshesFailInARow) {
  auto rest = std::make_unique<FakeRest>(Http("200 OK", kRecordedNodes));
  SlurmCapacityOptions o = Options(rest->path());
  o.refresh = std::chrono::milliseconds(20);
  o.failures_before_unavailable = 3;
  auto source = MakeSlurmCapacity(o);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  std::atomic<int> changes{0};
  (*source)->OnChange([&] { ++changes; });
  while (rest->requests() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(changes.load(), 0);  // the same answer is no change
  rest.reset();                  // slurmrestd goes away
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*source)->Read().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  core::Result<std::vector<ModelCapacity>> r = (*source)->Read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("connect"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(changes.load(), 1);
}

TEST(SlurmHttpTest, BadOptionsAreInvalidArgument) {
  SlurmCapacityOptions o = Options("/nonexistent.sock");
  o.gres_models = {{"a100", "no-such-model"}};
  EXPECT_EQ(MakeSlurmCapacity(o).status().field(), "gres_models");
  o = Options("");
  EXPECT_EQ(MakeSlurmCapacity(o).status().field(), "socket_path");
  o = Options("/nonexistent.sock");
  o.refresh = std::chrono::milliseconds(0);
  EXPECT_EQ(MakeSlurmCapacity(o).status().code(), core::Code::kInvalidArgument);
}

}  // namespace
}  // namespace edwc::executor
