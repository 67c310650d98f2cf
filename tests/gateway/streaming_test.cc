// Streamed request and response bodies over real TLS on loopback port 0: uploads into a
// BodySink (Content-Length and chunked, refused half-way, abandoned by the client) and
// downloads from a BodySource (whole, HEAD, failing half-way), next to ordinary requests
// on the same server and connection. The sinks and sources work on another thread, as
// real ones (disk writes) do.
#include <gtest/gtest.h>

#include <strings.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/auth.h"
#include "gateway/http_client.h"
#include "gateway/http_server.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using config::Role;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kMiB = 1 << 20;
constexpr int64_t kBig = 64 * kMiB;

Headers As(Role role) { return {{"authorization", "Bearer " + testing::TokenFor(role)}}; }

std::string HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

// FNV-1a over a byte stream: order-sensitive, so equal sums mean equal bytes in order.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Add(std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  }
};

// A pseudo-random byte stream (xorshift64), produced in pieces of any size.
class RandomBytes {
 public:
  explicit RandomBytes(uint64_t seed) : state_(seed) {}
  void Fill(char* out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (left_ == 0) {
        state_ ^= state_ << 13;
        state_ ^= state_ >> 7;
        state_ ^= state_ << 17;
        word_ = state_;
        left_ = 8;
      }
      out[i] = static_cast<char>(word_ & 0xff);
      word_ >>= 8;
      --left_;
    }
  }

 private:
  uint64_t state_;
  uint64_t word_ = 0;
  int left_ = 0;
};

uint64_t ExpectedFnv(uint64_t seed, int64_t length) {
  RandomBytes bytes(seed);
  Fnv fnv;
  std::string piece(kMiB, '\0');
  for (int64_t done = 0; done < length;) {
    const size_t n = static_cast<size_t>(std::min<int64_t>(length - done, kMiB));
    bytes.Fill(piece.data(), n);
    fnv.Add(std::string_view(piece.data(), n));
    done += static_cast<int64_t>(n);
  }
  return fnv.h;
}

// What the test sees of one upload's sink.
struct UploadRecord {
  std::mutex mu;
  Fnv fnv;
  int64_t bytes = 0;
  size_t max_piece = 0;
  int pieces = 0;
  int finishes = 0;
  int aborts = 0;
  std::promise<void> aborted;
};

// Sums what it is given on a worker thread and answers the sum; with `fail_at`, refuses
// that piece (1-based) with a conflict.
class ChecksumSink : public BodySink, public std::enable_shared_from_this<ChecksumSink> {
 public:
  ChecksumSink(WorkerPool* worker, std::shared_ptr<UploadRecord> record, int fail_at)
      : worker_(worker), record_(std::move(record)), fail_at_(fail_at) {}

  void Write(std::string_view piece, std::function<void(core::Status)> done) override {
    worker_->Post([self = shared_from_this(), piece, done = std::move(done)] {
      UploadRecord& r = *self->record_;
      int n;
      {
        std::lock_guard lock(r.mu);
        n = ++r.pieces;
        r.max_piece = std::max(r.max_piece, piece.size());
        if (n != self->fail_at_) {
          r.fnv.Add(piece);
          r.bytes += static_cast<int64_t>(piece.size());
        }
      }
      done(n == self->fail_at_ ? core::Status(core::Code::kConflict, "dataset changed meanwhile")
                               : core::Status::Ok());
    });
  }
  void Finish(Respond respond) override {
    worker_->Post([self = shared_from_this(), respond = std::move(respond)] {
      UploadRecord& r = *self->record_;
      json::object o;
      {
        std::lock_guard lock(r.mu);
        ++r.finishes;
        o["fnv"] = std::to_string(r.fnv.h);
        o["bytes"] = r.bytes;
      }
      respond(HttpResponse::Json(201, json::serialize(o)));
    });
  }
  void Abort(const core::Status&) override {
    std::lock_guard lock(record_->mu);
    if (++record_->aborts == 1) record_->aborted.set_value();
  }

 private:
  WorkerPool* worker_;
  std::shared_ptr<UploadRecord> record_;
  int fail_at_;
};

// `length` pseudo-random bytes from `seed`, made on a worker thread; with `fail_after`,
// an error instead of the piece after that many bytes.
class RandomSource : public BodySource, public std::enable_shared_from_this<RandomSource> {
 public:
  RandomSource(WorkerPool* worker, uint64_t seed, int64_t fail_after, std::atomic<int>* reads)
      : worker_(worker), bytes_(seed), fail_after_(fail_after), reads_(reads) {}

  void Read(size_t max, std::function<void(core::Status, std::string)> done) override {
    (*reads_)++;
    worker_->Post([self = shared_from_this(), max, done = std::move(done)] {
      if (self->fail_after_ >= 0 && self->produced_ >= self->fail_after_) {
        return done(core::IoError("disk went away"), std::string());
      }
      std::string piece(max, '\0');
      self->bytes_.Fill(piece.data(), max);
      self->produced_ += static_cast<int64_t>(max);
      done(core::Status::Ok(), std::move(piece));
    });
  }

 private:
  WorkerPool* worker_;
  RandomBytes bytes_;
  int64_t produced_ = 0;  // on the worker only
  int64_t fail_after_;
  std::atomic<int>* reads_;
};

class StreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::MakeTestPki(dir_.path(), "testcenter");
    auth_ = std::make_unique<Authenticator>(testing::TestCenterConfig(dir_.path(), pki_).tokens);
    router_ = std::make_unique<Router>(auth_.get(), &metrics_);
    AddRoutes();
    ServerSettings s;
    s.tls.cert_file = pki_.cert_file;
    s.tls.key_file = pki_.key_file;
    s.body_limit_bytes = 8192;
    s.read_timeout = 5s;
    s.write_timeout = 5s;
    server_ = std::make_unique<HttpServer>(
        runtime_, s, [this](HttpRequest& req, Respond respond) { router_->Dispatch(req, respond); },
        &metrics_, [this](HttpRequest& head) { return router_->DispatchUpload(head); });
    auto port = server_->Listen();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    url_ = "https://127.0.0.1:" + std::to_string(*port);
    runtime_.Start();
  }
  void TearDown() override { StopServer(); }

  // Drains the server: every connection, and with it every upload, has ended after this.
  void StopServer() {
    if (!server_) return;
    auto drained = std::make_shared<std::promise<void>>();
    server_->Drain([drained] { drained->set_value(); });
    EXPECT_EQ(drained->get_future().wait_for(20s), std::future_status::ready);
    runtime_.Stop();
    runtime_.Join();
    server_.reset();
  }

  void AddRoutes() {
    router_->Add("GET", "/v1/ping", Access::Public(),
                 [](HttpRequest&, const RouteContext&, Respond respond) {
                   respond(HttpResponse::Json(200, R"({"pong":true})"));
                 });
    router_->Add("POST", "/v1/echo", Access::Public(),
                 [](HttpRequest& req, const RouteContext&, Respond respond) {
                   respond(HttpResponse::Json(200, req.body));
                 });
    // PUT /v1/datasets/fail refuses its third piece.
    router_->AddUpload(
        "PUT", "/v1/datasets/{id}", Access::Roles({Role::kOperator}),
        [this](HttpRequest&, const RouteContext& ctx) -> core::Result<std::shared_ptr<BodySink>> {
          auto record = std::make_shared<UploadRecord>();
          {
            std::lock_guard lock(mu_);
            records_.push_back(record);
          }
          const int fail_at = ctx.Param("id") == "fail" ? 3 : 0;
          return std::shared_ptr<BodySink>(
              std::make_shared<ChecksumSink>(&worker_, record, fail_at));
        });
    // GET /v1/blobs/{seed}?fail_after=N
    router_->Add("GET", "/v1/blobs/{seed}", Access::Public(),
                 [this](HttpRequest& req, const RouteContext& ctx, Respond respond) {
                   std::string fail_after = "-1";
                   req.QueryParam("fail_after", &fail_after);
                   HttpResponse r;
                   r.content_type = "application/octet-stream";
                   r.source = std::make_shared<RandomSource>(
                       &worker_, std::stoull(std::string(ctx.Param("seed"))),
                       std::stoll(fail_after), &source_reads_);
                   r.source_length = kBig;
                   respond(std::move(r));
                 });
  }

  std::unique_ptr<HttpsClient> Client() {
    auto c = HttpsClient::Create(url_, {pki_.ca_file, "", "", false}, 20s);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }

  // Uploads `length` bytes from `seed` in pieces of odd sizes (as files are read).
  core::Result<HttpResponse> UploadRandom(HttpsClient& client, std::string_view target,
                                          int64_t length, uint64_t seed,
                                          const Headers& headers = As(Role::kOperator)) {
    RandomBytes bytes(seed);
    return client.Upload(
        "PUT", target, length,
        [&](char* buf, size_t max) -> core::Result<size_t> {
          const size_t n = std::min<size_t>(max, 700001);
          bytes.Fill(buf, n);
          return n;
        },
        headers);
  }

  std::shared_ptr<UploadRecord> OnlyRecord() {
    std::lock_guard lock(mu_);
    EXPECT_EQ(records_.size(), 1u);
    return records_.empty() ? std::make_shared<UploadRecord>() : records_.back();
  }
  size_t records() {
    std::lock_guard lock(mu_);
    return records_.size();
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  IoRuntime runtime_{2};
  // Joined before the runtime goes: its tasks post back to connections.
  WorkerPool worker_{1};
  Metrics metrics_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<HttpServer> server_;
  std::string url_;
  std::atomic<int> source_reads_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<UploadRecord>> records_;  // GUARDED_BY(mu_)
};

TEST_F(StreamingTest, UploadStreamsIntoTheSinkInOrderAndInBoundedPieces) {
  auto client = Client();
  auto res = UploadRandom(*client, "/v1/datasets/d1", kBig, 7);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->status, 201) << res->body;
  json::value v = json::parse(res->body);
  EXPECT_EQ(v.at("fnv").as_string(), std::to_string(ExpectedFnv(7, kBig)));
  EXPECT_EQ(v.at("bytes").to_number<int64_t>(), kBig);
  auto record = OnlyRecord();
  std::lock_guard lock(record->mu);
  EXPECT_LE(record->max_piece, kMiB);
  EXPECT_GE(record->pieces, 64);
  EXPECT_EQ(record->finishes, 1);
  EXPECT_EQ(record->aborts, 0);
  const std::string prom = metrics_.RenderPrometheus();
  EXPECT_NE(prom.find(R"(edwc_http_requests_total{route="/v1/datasets/{id}",status="201"} 1)"),
            std::string::npos)
      << prom;
}

TEST_F(StreamingTest, ChunkedUploadArrivesWhole) {
  auto client = Client();
  std::string head = "PUT /v1/datasets/c HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     testing::TokenFor(Role::kOperator) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_TRUE(client->WriteRaw(head).ok());
  RandomBytes bytes(11);
  int64_t total = 0;
  for (size_t size : {size_t{1536 * 1024}, size_t{100 * 1024}, size_t{2 * kMiB + 1}, size_t{1}}) {
    std::string chunk(size, '\0');
    bytes.Fill(chunk.data(), size);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%zx\r\n", size);
    ASSERT_TRUE(client->WriteRaw(hex + chunk + "\r\n").ok());
    total += static_cast<int64_t>(size);
  }
  ASSERT_TRUE(client->WriteRaw("0\r\n\r\n").ok());
  auto res = client->ReadResponse();
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->status, 201) << res->body;
  json::value v = json::parse(res->body);
  EXPECT_EQ(v.at("fnv").as_string(), std::to_string(ExpectedFnv(11, total)));
  EXPECT_EQ(v.at("bytes").to_number<int64_t>(), total);
  auto record = OnlyRecord();
  std::lock_guard lock(record->mu);
  EXPECT_LE(record->max_piece, kMiB);
}

TEST_F(StreamingTest, SinkRefusingAPieceAnswersItsErrorAndCloses) {
  auto client = Client();
  auto res = UploadRandom(*client, "/v1/datasets/fail", kBig, 3);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 409) << res->body;
  EXPECT_EQ(json::parse(res->body).at("error").at("code").as_string(), "conflict") << res->body;
  EXPECT_TRUE(res->close);
  // The connection is gone: the next request opens another.
  auto ping = client->Request("GET", "/v1/ping");
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(client->connections_opened(), 2);
  StopServer();
  auto record = OnlyRecord();
  std::lock_guard lock(record->mu);
  EXPECT_EQ(record->pieces, 3);
  EXPECT_EQ(record->finishes, 0);
  EXPECT_EQ(record->aborts, 0);  // the sink refused: it knows
}

TEST_F(StreamingTest, ClientLeavingMidUploadAbortsTheSinkOnce) {
  auto client = Client();
  RandomBytes bytes(5);
  int64_t given = 0;
  auto res = client->Upload(
      "PUT", "/v1/datasets/gone", kBig,
      [&](char* buf, size_t max) -> core::Result<size_t> {
        if (given >= int64_t{3 * kMiB}) return core::IoError("disk error");
        bytes.Fill(buf, max);
        given += static_cast<int64_t>(max);
        return max;
      },
      As(Role::kOperator));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), core::Code::kIoError);  // the client's own error
  auto record = OnlyRecord();
  EXPECT_EQ(record->aborted.get_future().wait_for(20s), std::future_status::ready);
  StopServer();
  std::lock_guard lock(record->mu);
  EXPECT_EQ(record->aborts, 1);
  EXPECT_EQ(record->finishes, 0);
}

TEST_F(StreamingTest, DownloadStreamsTheSourceWithProgress) {
  auto client = Client();
  Fnv fnv;
  int64_t received = 0;
  size_t max_piece = 0;
  int64_t last_received = -1, last_total = -2;
  auto res = client->Download(
      "GET", "/v1/blobs/9", {},
      [&](std::string_view piece) {
        fnv.Add(piece);
        received += static_cast<int64_t>(piece.size());
        max_piece = std::max(max_piece, piece.size());
        return core::Status::Ok();
      },
      [&](int64_t got, int64_t total) {
        last_received = got;
        last_total = total;
      });
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->body.empty());
  EXPECT_EQ(res->content_type, "application/octet-stream");
  EXPECT_EQ(HeaderOf(*res, "Content-Length"), std::to_string(kBig));
  EXPECT_EQ(received, kBig);
  EXPECT_EQ(fnv.h, ExpectedFnv(9, kBig));
  EXPECT_LE(max_piece, kMiB);
  EXPECT_EQ(last_received, kBig);
  EXPECT_EQ(last_total, kBig);

  // HEAD: the same header, no body, and the source is never read.
  source_reads_ = 0;
  auto head = client->Request("HEAD", "/v1/blobs/9");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(HeaderOf(*head, "Content-Length"), std::to_string(kBig));
  EXPECT_TRUE(head->body.empty());
  // The connection stays usable after both, so nothing stray followed the HEAD answer.
  auto ping = client->Request("GET", "/v1/ping");
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(client->connections_opened(), 1);
  EXPECT_EQ(source_reads_.load(), 0);
}

TEST_F(StreamingTest, SourceFailingMidwayCutsTheDownload) {
  auto client = Client();
  int64_t received = 0;
  auto res = client->Download("GET", "/v1/blobs/4?fail_after=" + std::to_string(3 * kMiB), {},
                              [&](std::string_view piece) {
                                received += static_cast<int64_t>(piece.size());
                                return core::Status::Ok();
                              });
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), core::Code::kUnavailable) << res.status().ToString();
  EXPECT_EQ(received, int64_t{3 * kMiB});
  // The client recovers on a fresh connection.
  auto ping = client->Request("GET", "/v1/ping");
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(client->connections_opened(), 2);
}

TEST_F(StreamingTest, OrdinaryRequestsAndLimitsAreUnchanged) {
  auto client = Client();
  // A streamed upload, then ordinary requests, on one kept-alive connection.
  auto up = UploadRandom(*client, "/v1/datasets/small", 3 * kMiB + 5, 1);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->status, 201);
  EXPECT_FALSE(up->close);
  auto ping = client->Request("GET", "/v1/ping");
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(ping->body, R"({"pong":true})");
  auto echo = client->Request("POST", "/v1/echo", R"({"a":1})");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->body, R"({"a":1})");
  // Upload (with its Expect: 100-continue) works on an ordinary route too.
  const std::string body(100, 'x');
  auto via_upload = client->Upload("POST", "/v1/echo", static_cast<int64_t>(body.size()),
                                   [&](char* buf, size_t max) -> core::Result<size_t> {
                                     std::memcpy(buf, body.data(), std::min(max, body.size()));
                                     return std::min(max, body.size());
                                   });
  ASSERT_TRUE(via_upload.ok()) << via_upload.status().ToString();
  EXPECT_EQ(via_upload->body, body);
  EXPECT_EQ(client->connections_opened(), 1);

  // The body limit still holds for ordinary routes.
  auto big = client->Request("POST", "/v1/echo", std::string(9000, 'x'));
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->status, 413);
  auto missing = Client()->Request("GET", "/v1/nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  auto wrong_method = Client()->Request("GET", "/v1/datasets/x");
  ASSERT_TRUE(wrong_method.ok());
  EXPECT_EQ(wrong_method->status, 405);
  EXPECT_EQ(HeaderOf(*wrong_method, "Allow"), "PUT");

  // No token, or the wrong role: refused on the header alone, with a GiB announced and
  // never sent, and no sink made.
  for (const auto& [headers, status] : std::vector<std::pair<std::string, int>>{
           {"", 401},
           {"Authorization: Bearer " + testing::TokenFor(Role::kViewer) + "\r\n", 403}}) {
    auto raw = Client();
    ASSERT_TRUE(raw->WriteRaw("PUT /v1/datasets/x HTTP/1.1\r\nHost: x\r\n" + headers +
                              "Content-Length: 1073741824\r\n\r\n")
                    .ok());
    auto refused = raw->ReadResponse();
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_EQ(refused->status, status) << refused->body;
    EXPECT_TRUE(refused->close);
  }
  auto refused = UploadRandom(*Client(), "/v1/datasets/x", kBig, 2, As(Role::kViewer));
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(records(), 1u);  // only the first upload's
}

}  // namespace
}  // namespace edwc::gateway
