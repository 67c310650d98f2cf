// Files compiled into the binary by gateway/embed_files.cmake (the dashboard's assets, the
// OpenAPI document): the bytes live in the executable's read-only data, so the gateway
// serves them with no file on disk.
#pragma once

#include <string_view>

namespace edwc::gateway {

struct EmbeddedFile {
  std::string_view name;  // the file's name: "app.js"
  std::string_view etag;  // quoted, from the SHA-256 of `body` at build time
  std::string_view body;
};

}  // namespace edwc::gateway
