#include "gateway/openapi_service.h"

#include <memory>
#include <span>
#include <string>

#include "gateway/embedded_files.h"

namespace edwc::gateway {

// Generated from gateway/openapi.json by embed_files.cmake (openapi_files.cc).
std::span<const EmbeddedFile> OpenApiFiles();

std::string_view OpenApiDocument() { return OpenApiFiles().front().body; }

void RegisterOpenApiRoute(Router& router) {
  // One copy for every answer: the document never changes while the binary runs.
  auto body = std::make_shared<const std::string>(OpenApiDocument());
  router.Add("GET", "/v1/openapi.json", Access::Public(),
             [body](HttpRequest&, const RouteContext&, Respond respond) {
               HttpResponse r;
               r.shared_body = body;
               respond(std::move(r));
             });
}

}  // namespace edwc::gateway
