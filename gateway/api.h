// ApiService: the api listener's routes for one center: health, readiness, metrics, the
// federation view (/v1/centers: every center this one knows, from signed adverts) and
// quotes from every live center that could run a job.
//
// The /v1/centers body is rendered from a snapshot and cached briefly, so that the hot
// read path is a string copy. Thread-safe after RegisterRoutes.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/center_config.h"
#include "core/time.h"
#include "gateway/federation_service.h"
#include "gateway/router.h"

namespace edwc::gateway {

class Metrics;

class ApiService {
 public:
  // All pointers must outlive the service.
  ApiService(const config::CenterConfig& config, const core::Clock* clock, Metrics* metrics);

  void RegisterRoutes(Router& router);

  // Storage is open and the federation view exists: /readyz answers 200 and v1 routes
  // serve. `view` must outlive the service.
  void SetReady(uint64_t epoch, const ViewSource* view);
  bool ready() const { return source_.load() != nullptr; }

 private:
  void Healthz(HttpRequest&, const RouteContext&, Respond);
  void Readyz(HttpRequest&, const RouteContext&, Respond);
  void MetricsText(HttpRequest&, const RouteContext&, Respond);
  void ListCenters(HttpRequest&, const RouteContext&, Respond);
  void GetCenter(HttpRequest&, const RouteContext&, Respond);
  void CreateQuote(HttpRequest&, const RouteContext&, Respond);

  struct View {
    std::string centers_body;                   // {"centers":[...]}
    std::map<std::string, std::string> center;  // id -> that center's object
    std::vector<federation::ViewEntry> entries;
    core::Time rendered_at;
    uint64_t version = 0;
  };
  core::Result<std::shared_ptr<const View>> CurrentView();
  core::Result<std::shared_ptr<const View>> RenderView(core::Time now);

  const config::CenterConfig& config_;
  const core::Clock* clock_;
  Metrics* metrics_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<const ViewSource*> source_{nullptr};

  std::mutex view_mu_;
  std::shared_ptr<const View> view_;  // GUARDED_BY(view_mu_)
};

}  // namespace edwc::gateway
