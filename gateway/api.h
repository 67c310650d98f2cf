// ApiService: the api listener's routes for one center: health, readiness, metrics, the
// federation view (/v1/centers; for now this center alone) and quotes for this center.
//
// The /v1/centers body is rendered from a snapshot and cached briefly, so that the hot
// read path is a string copy. Thread-safe after RegisterRoutes.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "config/center_config.h"
#include "core/time.h"
#include "executor/capacity.h"
#include "gateway/router.h"

namespace edwc::gateway {

class Metrics;

class ApiService {
 public:
  // All pointers must outlive the service.
  ApiService(const config::CenterConfig& config, executor::CapacitySource* capacity,
             const core::Clock* clock, Metrics* metrics);

  void RegisterRoutes(Router& router);

  // Storage is open and the view loaded: /readyz answers 200 and v1 routes serve.
  void SetReady(uint64_t epoch);
  bool ready() const { return ready_.load(); }

 private:
  void Healthz(HttpRequest&, const RouteContext&, Respond);
  void Readyz(HttpRequest&, const RouteContext&, Respond);
  void MetricsText(HttpRequest&, const RouteContext&, Respond);
  void ListCenters(HttpRequest&, const RouteContext&, Respond);
  void GetCenter(HttpRequest&, const RouteContext&, Respond);
  void CreateQuote(HttpRequest&, const RouteContext&, Respond);

  struct View {
    std::string centers_body;  // {"centers":[...]}
    std::string center_body;   // this center's object alone
    core::Time rendered_at;
  };
  core::Result<std::shared_ptr<const View>> CurrentView();
  core::Result<std::shared_ptr<const View>> RenderView(core::Time now);

  const config::CenterConfig& config_;
  executor::CapacitySource* capacity_;
  const core::Clock* clock_;
  Metrics* metrics_;
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> epoch_{0};

  std::mutex view_mu_;
  std::shared_ptr<const View> view_;  // GUARDED_BY(view_mu_)
};

}  // namespace edwc::gateway
