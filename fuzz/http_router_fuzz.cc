// HTTP requests into the router: raw bytes parsed by Beast exactly as the server's session
// does (gateway/http_server.cc: a header parser with the default 16 KiB header limit, then
// the body with the 1 MiB body limit, pipelined requests one after another), turned into
// an HttpRequest, offered to Router::DispatchUpload and then Router::Dispatch, over a route
// table shaped like the gateway's (both listeners' patterns, public and role-checked
// routes, an upload route).
//
// The first input byte chooses the listener: odd bytes arrive on the peer listener with
// the client certificate of "wuhu". Bearer tokens: "broker-token", "finance-token".
// Checked beyond crashes: every dispatched request is answered exactly once, with an
// x-request-id header.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "config/center_config.h"
#include "core/json.h"
#include "federation/placement.h"
#include "fuzz/fuzz_support.h"
#include "gateway/auth.h"
#include "gateway/beast_request.h"
#include "gateway/certs.h"
#include "gateway/metrics.h"
#include "gateway/router.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using edwc::config::Role;
using edwc::gateway::Access;
using edwc::gateway::HttpRequest;
using edwc::gateway::HttpResponse;
using edwc::gateway::Respond;
using edwc::gateway::RouteContext;
using edwc::gateway::ToHttpRequest;

constexpr uint32_t kHeaderLimit = 16 * 1024;  // HttpServer::Settings defaults
constexpr uint64_t kBodyLimit = 1024 * 1024;
constexpr int kMaxRequestsPerInput = 8;

// Echoes the captured parameters, so that matching and Param() are exercised.
void Echo(HttpRequest& req, const RouteContext& ctx, Respond respond) {
  std::string body = "{\"path\":" + std::to_string(req.path().size());
  for (const auto& [name, value] : ctx.params)
    body += ",\"" + name + "\":" + std::to_string(value.size());
  (void)ctx.Param("id");
  std::string ignored;
  (void)req.QueryParam("format", &ignored);
  respond(HttpResponse::Json(200, body + "}"));
}

// POST /v1/quotes decodes its body as the api does; the decoders themselves are fuzzed
// in depth by fuzz_json_bodies.
void Quote(HttpRequest& req, const RouteContext&, Respond respond) {
  auto body = edwc::core::ParseJsonObject(req.body);
  if (!body.ok()) return respond(HttpResponse::Error(body.status()));
  auto request = edwc::federation::PlacementRequestFromJson(*body);
  if (!request.ok()) return respond(HttpResponse::Error(request.status()));
  respond(HttpResponse::Json(200, "{}"));
}

// Takes any upload and throws it away.
class DiscardSink final : public edwc::gateway::BodySink {
 public:
  void Write(std::string_view, std::function<void(edwc::core::Status)> done) override {
    done(edwc::core::Status::Ok());
  }
  void Finish(Respond respond) override { respond(HttpResponse::Json(201, "{}")); }
  void Abort(const edwc::core::Status&) override {}
};

struct World {
  edwc::gateway::Metrics metrics;
  edwc::gateway::Authenticator auth{{
      {"acme-broker", Role::kBroker, edwc::gateway::Sha256Hex("broker-token")},
      {"finance", Role::kFinance, edwc::gateway::Sha256Hex("finance-token")},
  }};
  edwc::gateway::Router router{&auth, &metrics};

  World() {
    const auto broker = Access::Roles({Role::kBroker});
    const auto finance = Access::Roles({Role::kFinance});
    const auto viewer = Access::Roles({Role::kViewer, Role::kBroker, Role::kFinance});
    for (const char* p :
         {"/healthz", "/readyz", "/metrics", "/v1/openapi.json", "/ui", "/ui/{file}"}) {
      router.Add("GET", p, Access::Public(), Echo);
    }
    router.Add("GET", "/v1/centers", viewer, Echo);
    router.Add("GET", "/v1/centers/{id}", viewer, Echo);
    router.Add("POST", "/v1/quotes", broker, Quote);
    router.Add("POST", "/v1/jobs", broker, Echo);
    router.Add("GET", "/v1/jobs", broker, Echo);
    router.Add("GET", "/v1/jobs/{id}", broker, Echo);
    router.Add("DELETE", "/v1/jobs/{id}", broker, Echo);
    router.AddUpload(
        "PUT", "/v1/datasets/{name}", broker,
        [](HttpRequest&,
           const RouteContext&) -> edwc::core::Result<std::shared_ptr<edwc::gateway::BodySink>> {
          return std::shared_ptr<edwc::gateway::BodySink>(std::make_shared<DiscardSink>());
        });
    router.Add("GET", "/v1/datasets/{name}", broker, Echo);
    router.Add("DELETE", "/v1/datasets/{name}", broker, Echo);
    router.Add("POST", "/v1/transfers", broker, Echo);
    router.Add("GET", "/v1/transfers/{id}", broker, Echo);
    router.Add("GET", "/v1/settlements", finance, Echo);
    router.Add("GET", "/v1/balances", finance, Echo);
    router.Add("POST", "/v1/reconcile/{peer}", finance, Echo);
    router.Add("GET", "/v1/netting", finance, Echo);
    router.Add("POST", "/peer/v1/gossip", Access::Public(), Echo);
    router.Add("POST", "/peer/v1/holds", Access::Public(), Echo);
    router.Add("POST", "/peer/v1/holds/{id}/commit", Access::Public(), Echo);
    router.Add("POST", "/peer/v1/holds/{id}/release", Access::Public(), Echo);
    router.Add("GET", "/peer/v1/jobs/{id}", Access::Public(), Echo);
    router.Add("GET", "/peer/v1/datasets/{name}/chunks/{index}", Access::Public(), Echo);
    router.Add("POST", "/peer/v1/settlements", Access::Public(), Echo);
    router.MarkRoutine("POST", "/peer/v1/gossip");
  }
};

// Every answer exactly once, with a request id.
Respond Checked(int* answers) {
  return [answers](HttpResponse response) {
    ++*answers;
    bool has_id = false;
    for (const auto& [name, value] : response.headers) has_id |= name == "x-request-id";
    EDWC_FUZZ_CHECK(has_id);
  };
}

// Feeds `buffer` to `parser` until it is done or an error; false on error or short input.
template <typename Parser>
bool Feed(Parser& parser, beast::flat_buffer& buffer, bool header_only) {
  boost::system::error_code ec;
  while (!(header_only ? parser.is_header_done() : parser.is_done())) {
    if (buffer.size() == 0) return false;  // the client stopped sending: the server times out
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec || used == 0) return false;
  }
  return true;
}

// One request off the front of `buffer`; false when the connection would end.
bool ServeOne(const World& world, beast::flat_buffer& buffer, bool peer) {
  http::request_parser<http::empty_body> header;
  header.header_limit(kHeaderLimit);
  header.body_limit(boost::none);
  if (!Feed(header, buffer, /*header_only=*/true)) return false;
  const bool keep_alive = header.get().keep_alive();
  HttpRequest request = ToHttpRequest(header.get());
  if (peer) request.peer_center = std::string(edwc::fuzz::kPayee);
  if (request.method == "HEAD") request.method = "GET";

  int answers = 0;
  auto sink = world.router.DispatchUpload(request);
  if (!sink.ok()) return keep_alive && header.is_done();
  if (*sink) {
    http::request_parser<http::string_body> body(std::move(header));
    body.body_limit(boost::none);
    body.eager(true);
    if (!Feed(body, buffer, /*header_only=*/false)) {
      (*sink)->Abort(edwc::core::Status(edwc::core::Code::kUnavailable, "client went away"));
      return false;
    }
    (*sink)->Write(body.get().body(), [](edwc::core::Status) {});
    (*sink)->Finish(Checked(&answers));
    EDWC_FUZZ_CHECK(answers == 1);
    return keep_alive;
  }
  if (header.content_length().value_or(0) > kBodyLimit) return false;  // 413, then close
  http::request_parser<http::string_body> parser(std::move(header));
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  if (!Feed(parser, buffer, /*header_only=*/false)) return false;
  request.body = std::move(parser.get().body());
  world.router.Dispatch(request, Checked(&answers));
  EDWC_FUZZ_CHECK(answers == 1);
  return keep_alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const World world;
  if (size < 2) return 0;
  const bool peer = (data[0] & 1) != 0;
  beast::flat_buffer buffer;
  auto space = buffer.prepare(size - 1);
  std::memcpy(space.data(), data + 1, size - 1);
  buffer.commit(size - 1);
  for (int i = 0; i < kMaxRequestsPerInput && buffer.size() > 0; ++i) {
    if (!ServeOne(world, buffer, peer)) break;
  }
  return 0;
}
