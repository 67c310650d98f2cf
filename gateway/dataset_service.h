// DatasetService: the datasets kept at this center (DESIGN.md section 5, "Transfers";
// docs/datasets.md). On the api listener, streamed uploads and downloads of any size:
//
//   PUT    /v1/datasets/{name}[?zone=&tags=a,b&chunk_size=]  body streamed to disk -> 201
//          {"dataset": manifest} (200 when the same content is there; 409 other content)
//   GET    /v1/datasets                 {"datasets": [summary, ..]} by name
//   GET    /v1/datasets/{name}          the bytes; one Range (bytes=a-b, a-, -n) -> 206
//   GET    /v1/datasets/{name}/manifest {"dataset": manifest with chunk hashes}
//   DELETE /v1/datasets/{name}          {"deleted": name}
//
// and on the peer listener, what another center needs to pull a copy:
//
//   GET /peer/v1/datasets/{name}/manifest[?for=<center>]  residency checked for the caller
//                                                         (or for `for`, when planning)
//   GET /peer/v1/datasets/{name}/chunks/{i}               chunk i's bytes
//
// Residency: a peer is served a manifest or a chunk only when this center's
// datasets.residency rules allow the zone it advertises (403 naming the rule otherwise),
// so a refused copy moves no byte. File I/O runs on the service's worker threads.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <memory>

#include "config/center_config.h"
#include "core/status.h"

namespace edwc::storage {
class DatasetStore;
}

namespace edwc::gateway {

class Metrics;
class Router;
class ViewSource;

class DatasetService {
 public:
  // `metrics` must outlive the service.
  static core::Result<std::unique_ptr<DatasetService>> Create(const config::CenterConfig& config,
                                                              Metrics* metrics);
  ~DatasetService();

  // REQUIRES: before the listeners serve. Routes answer 503 until Open.
  void RegisterRoutes(Router& api, Router& peer);
  // Opens datasets.dir (blocking: at start-up). `view` (for the zones of peers) must
  // outlive the service.
  core::Status Open(const ViewSource* view);
  // Finishes the file work in progress; later requests get 503.
  void Stop();

  // The store, for transfers and jobs. REQUIRES: Open succeeded.
  storage::DatasetStore& store();

 private:
  struct Impl;
  explicit DatasetService(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace edwc::gateway
