// The web dashboard on the api listener: GET /ui/ and its assets, embedded in the binary at
// build time (web/build.mjs's output, see gateway/embed_files.cmake) so the gateway
// serves them with no file on disk and the page loads nothing from elsewhere; and
// GET /v1/whoami, which tells the page the caller's token name, role and this center.
//
// The assets are public (the page asks for a token itself); whoami needs any valid token.
// Stateless and thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "gateway/embedded_files.h"
#include "gateway/router.h"

namespace edwc::gateway {

// The embedded dashboard files, named by their path under /ui/ (generated: ui_assets.cc in
// the build tree).
std::span<const EmbeddedFile> UiAssets();

// Adds GET /ui (308 to /ui/), /ui/ (index.html), /ui/{file} and /v1/whoami to `router`,
// the api listener's. REQUIRES: before serving.
void RegisterUiRoutes(Router& router, std::string center_id);

// The Content-Security-Policy of every dashboard response: everything from 'self' only,
// no inline scripts or styles, no framing.
inline constexpr std::string_view kUiContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

}  // namespace edwc::gateway
