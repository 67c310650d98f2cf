// The api listener's description of itself: GET /v1/openapi.json serves
// gateway/openapi.json, the hand-written OpenAPI 3.1 document of every api route (the
// source of truth for the API's shapes), embedded in the binary when it is built.
//
// Tests keep the two honest: tests/gateway/openapi_test.cc checks that the routes an agent
// serves are exactly the documented operations, with the same roles, and
// web/test/openapi.test.mjs validates the document and every real answer against it.
// Thread-safe.
#pragma once

#include <string_view>

#include "gateway/router.h"

namespace edwc::gateway {

// The document, byte for byte as gateway/openapi.json (embedded by gateway/embed_files.cmake).
std::string_view OpenApiDocument();

// Adds GET /v1/openapi.json (public, application/json).
void RegisterOpenApiRoute(Router& router);

}  // namespace edwc::gateway
