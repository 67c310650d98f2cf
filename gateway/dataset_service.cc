#include "gateway/dataset_service.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <charconv>
#include <mutex>

#include "core/dataset.h"
#include "core/json.h"
#include "core/log.h"
#include "federation/gossip.h"
#include "federation/transfer.h"
#include "gateway/federation_service.h"
#include "gateway/http_types.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "storage/dataset_store.h"

namespace edwc::gateway {

namespace json = boost::json;
using core::DatasetManifest;

namespace {

constexpr int kFileThreads = 2;
constexpr size_t kPiece = 1 << 20;  // download pieces

HttpResponse Unavailable(std::string why) {
  return HttpResponse::Error(core::Status(core::Code::kUnavailable, std::move(why)));
}

// The manifest without its chunk hashes: what lists show.
json::object Summary(const DatasetManifest& m) {
  json::object o = core::ToJson(m);
  o.erase("chunk_sha256");
  o["chunks"] = m.chunk_count();
  return o;
}

core::Result<int64_t> ParseCount(std::string_view text, std::string_view field) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return core::InvalidArgument("'" + std::string(text) + "' is not a non-negative integer",
                                 std::string(field));
  }
  return v;
}

// "a,b,c" -> sorted unique {"a","b","c"}; each a zone-like word.
core::Result<std::vector<std::string>> ParseTags(std::string_view text) {
  std::vector<std::string> tags;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string tag(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const bool ok =
        !tag.empty() && tag.size() <= 63 && std::all_of(tag.begin(), tag.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        });
    if (!ok) return core::InvalidArgument("'" + tag + "' is not a tag: [a-z0-9-], 1-63", "tags");
    tags.push_back(std::move(tag));
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

struct ByteRange {
  int64_t first = 0;
  int64_t length = 0;
  bool partial = false;
};

// One range of RFC 9110 14.1.2 ("bytes=a-b", "bytes=a-", "bytes=-n") over `size` bytes.
// kFailedPrecondition (416) when unsatisfiable; several ranges are refused (400).
core::Result<ByteRange> ParseRange(std::string_view header, int64_t size) {
  if (header.empty()) return ByteRange{0, size, false};
  constexpr std::string_view kUnit = "bytes=";
  if (header.substr(0, kUnit.size()) != kUnit || header.find(',') != std::string_view::npos) {
    return core::InvalidArgument("one range of bytes is supported: bytes=first-last", "Range");
  }
  std::string_view spec = header.substr(kUnit.size());
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) {
    return core::InvalidArgument("expected bytes=first-last", "Range");
  }
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  auto unsatisfiable = [&] {
    return core::Status(core::Code::kFailedPrecondition,
                        "range " + std::string(spec) + " is outside the dataset's " +
                            std::to_string(size) + " bytes",
                        "Range");
  };
  if (a.empty()) {  // the last n bytes
    EDWC_ASSIGN_OR_RETURN(int64_t n, ParseCount(b, "Range"));
    if (n == 0 || size == 0) return unsatisfiable();
    n = std::min(n, size);
    return ByteRange{size - n, n, true};
  }
  EDWC_ASSIGN_OR_RETURN(int64_t first, ParseCount(a, "Range"));
  int64_t last = size - 1;
  if (!b.empty()) {
    EDWC_ASSIGN_OR_RETURN(last, ParseCount(b, "Range"));
    if (last < first) return core::InvalidArgument("last before first", "Range");
    last = std::min(last, size - 1);
  }
  if (first >= size) return unsatisfiable();
  return ByteRange{first, last - first + 1, true};
}

}  // namespace

struct DatasetService::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::CenterConfig& c, Metrics* m) : config(c), metrics(m) {}

  const config::CenterConfig config;
  const ViewSource* view = nullptr;  // set once by Open
  Metrics* metrics;
  std::unique_ptr<storage::DatasetStore> datasets;  // set once by Open
  std::atomic<bool> open{false};
  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> bytes_in{0}, bytes_out{0}, chunks_served{0};
  WorkerPool files{kFileThreads};

  // Runs `task` on a file worker; false once stopped (the task is dropped).
  bool Post(std::function<void()> task) { return files.Post(std::move(task)); }
  // Answers 503 when the task cannot run.
  void PostOr503(const Respond& respond, std::function<void()> task) {
    if (!Post(std::move(task))) respond(Unavailable("shutting down"));
  }

  bool Serving(const Respond& respond) {
    if (stopped) {
      respond(Unavailable("shutting down"));
      return false;
    }
    if (!open) {
      respond(Unavailable("not ready: datasets are still opening"));
      return false;
    }
    return true;
  }

  core::Result<std::shared_ptr<BodySink>> BeginUpload(HttpRequest& head, const RouteContext& ctx);
  void List(Respond respond);
  void Download(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void Manifest(const RouteContext& ctx, Respond respond);
  void Delete(const RouteContext& ctx, Respond respond);
  void PeerManifest(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void PeerChunk(HttpRequest& req, const RouteContext& ctx, Respond respond);
  core::Status CheckResidency(const DatasetManifest& m, std::string_view center) const;

  class UploadSink;
  class RangeSource;
};

// Streams a PUT body into a DatasetUpload on the file workers, one piece at a time. The
// upload itself is begun there too, with the first piece: no file I/O on the I/O thread.
class DatasetService::Impl::UploadSink final : public BodySink,
                                               public std::enable_shared_from_this<UploadSink> {
 public:
  struct Params {
    std::string name, zone;
    std::vector<std::string> tags;
    int64_t chunk_size = 0;
  };
  UploadSink(std::shared_ptr<DatasetService::Impl> service, Params params)
      : service_(std::move(service)), params_(std::move(params)) {}

  void Write(std::string_view piece, std::function<void(core::Status)> done) override {
    auto task = [this, me = shared_from_this(), piece, done] {
      core::Status st = Begin();
      if (st.ok()) st = upload_->Append(piece);
      if (st.ok()) service_->bytes_in += piece.size();
      done(st);
    };
    if (!service_->Post(std::move(task))) {
      done(core::Status(core::Code::kUnavailable, "shutting down"));
    }
  }

  void Finish(Respond respond) override {
    service_->PostOr503(respond, [this, me = shared_from_this(), respond] {
      if (core::Status st = Begin(); !st.ok()) return respond(HttpResponse::Error(st));
      auto manifest = upload_->Commit();
      if (!manifest.ok()) return respond(HttpResponse::Error(manifest.status()));
      core::LogInfo("datasets",
                    "stored " + manifest->name + " (" + std::to_string(manifest->size) + " bytes)");
      respond(HttpResponse::Json(existed_ ? 200 : 201, json::serialize(json::object{
                                                           {"dataset", core::ToJson(*manifest)}})));
    });
  }

  void Abort(const core::Status& why) override {
    core::LogWarn("datasets", "upload of " + params_.name + " abandoned: " + why.ToString());
    service_->Post([me = shared_from_this()] {
      if (me->upload_) me->upload_->Abort();
    });
  }

 private:
  // On a file worker; the pieces of one upload come one at a time.
  core::Status Begin() {
    if (upload_) return core::Status::Ok();
    existed_ = service_->datasets->Get(params_.name).ok();
    EDWC_ASSIGN_OR_RETURN(upload_,
                          service_->datasets->BeginUpload(params_.name, params_.zone, params_.tags,
                                                          params_.chunk_size));
    return core::Status::Ok();
  }

  std::shared_ptr<DatasetService::Impl> service_;
  const Params params_;
  std::unique_ptr<storage::DatasetUpload> upload_;
  bool existed_ = false;
};

// Reads [first, first + length) of a dataset on the file workers, piece by piece.
class DatasetService::Impl::RangeSource final : public BodySource,
                                                public std::enable_shared_from_this<RangeSource> {
 public:
  RangeSource(std::shared_ptr<DatasetService::Impl> service,
              std::unique_ptr<storage::DatasetReader> reader, int64_t first)
      : service_(std::move(service)), reader_(std::move(reader)), next_(first) {}

  void Read(size_t max, std::function<void(core::Status, std::string)> done) override {
    auto task = [this, me = shared_from_this(), max, done] {
      std::string piece(std::min(max, kPiece), '\0');
      core::Status st = reader_->ReadAt(next_, static_cast<int64_t>(piece.size()), piece.data());
      if (!st.ok()) return done(st, {});
      next_ += static_cast<int64_t>(piece.size());
      service_->bytes_out += piece.size();
      done(core::Status::Ok(), std::move(piece));
    };
    if (!service_->Post(std::move(task))) {
      done(core::Status(core::Code::kUnavailable, "shutting down"), {});
    }
  }

 private:
  std::shared_ptr<DatasetService::Impl> service_;
  std::unique_ptr<storage::DatasetReader> reader_;
  int64_t next_;  // only the file worker running this source's Read touches it
};

core::Result<std::shared_ptr<BodySink>> DatasetService::Impl::BeginUpload(HttpRequest& head,
                                                                          const RouteContext& ctx) {
  if (stopped || !open) return core::Status(core::Code::kUnavailable, "not serving datasets");
  const std::string name(ctx.Param("name"));
  if (!core::ValidDatasetName(name)) {
    return core::InvalidArgument("1-128 characters of [A-Za-z0-9._-], not starting with . or -",
                                 "name");
  }
  std::string zone = config.center.zone, tags_text, chunk_text;
  head.QueryParam("zone", &zone);
  head.QueryParam("tags", &tags_text);
  int64_t chunk_size = config.datasets.chunk_size_bytes;
  if (head.QueryParam("chunk_size", &chunk_text)) {
    EDWC_ASSIGN_OR_RETURN(chunk_size, ParseCount(chunk_text, "chunk_size"));
    if (chunk_size < core::kMinChunkSize || chunk_size > core::kMaxChunkSize) {
      return core::InvalidArgument("must be 65536..67108864 bytes", "chunk_size");
    }
  }
  EDWC_ASSIGN_OR_RETURN(std::vector<std::string> tags, ParseTags(tags_text));
  const bool zone_ok =
      !zone.empty() && zone.size() <= 63 && std::all_of(zone.begin(), zone.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      });
  if (!zone_ok)
    return core::InvalidArgument("'" + zone + "' is not a zone: [a-z0-9-], 1-63", "zone");
  return std::shared_ptr<BodySink>(std::make_shared<UploadSink>(
      shared_from_this(), UploadSink::Params{name, zone, std::move(tags), chunk_size}));
}

void DatasetService::Impl::List(Respond respond) {
  if (!Serving(respond)) return;
  PostOr503(respond, [self = shared_from_this(), respond] {
    auto all = self->datasets->List();
    if (!all.ok()) return respond(HttpResponse::Error(all.status()));
    json::array out;
    for (const DatasetManifest& m : *all) out.push_back(Summary(m));
    respond(HttpResponse::Json(200, json::serialize(json::object{{"datasets", std::move(out)}})));
  });
}

void DatasetService::Impl::Download(HttpRequest& req, const RouteContext& ctx, Respond respond) {
  if (!Serving(respond)) return;
  PostOr503(respond, [self = shared_from_this(), name = std::string(ctx.Param("name")),
                      range_header = std::string(req.Header("range")), respond] {
    auto reader = self->datasets->OpenRead(name);
    if (!reader.ok()) return respond(HttpResponse::Error(reader.status()));
    const DatasetManifest& m = (*reader)->manifest();
    auto range = ParseRange(range_header, m.size);
    if (!range.ok()) {
      HttpResponse r = HttpResponse::Error(range.status());
      if (range.status().code() == core::Code::kFailedPrecondition) {
        r.status = 416;
        r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(m.size));
      }
      return respond(std::move(r));
    }
    HttpResponse r;
    r.status = range->partial ? 206 : 200;
    r.content_type = "application/octet-stream";
    r.headers.emplace_back("Accept-Ranges", "bytes");
    r.headers.emplace_back("ETag", "\"" + m.sha256 + "\"");
    r.headers.emplace_back("X-Edwc-Sha256", m.sha256);
    if (range->partial) {
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                  std::to_string(range->first + range->length - 1) +
                                                  "/" + std::to_string(m.size));
    }
    r.source_length = range->length;
    r.source = std::make_shared<RangeSource>(self, std::move(reader).value(), range->first);
    respond(std::move(r));
  });
}

void DatasetService::Impl::Manifest(const RouteContext& ctx, Respond respond) {
  if (!Serving(respond)) return;
  PostOr503(respond, [self = shared_from_this(), name = std::string(ctx.Param("name")), respond] {
    auto m = self->datasets->Get(name);
    if (!m.ok()) return respond(HttpResponse::Error(m.status()));
    respond(HttpResponse::Json(200, json::serialize(json::object{{"dataset", core::ToJson(*m)}})));
  });
}

void DatasetService::Impl::Delete(const RouteContext& ctx, Respond respond) {
  if (!Serving(respond)) return;
  PostOr503(respond, [self = shared_from_this(), name = std::string(ctx.Param("name")), respond] {
    if (auto st = self->datasets->Delete(name); !st.ok()) {
      return respond(HttpResponse::Error(st));
    }
    core::LogInfo("datasets", "deleted " + name);
    respond(HttpResponse::Json(200, json::serialize(json::object{{"deleted", name}})));
  });
}

// Whether this center's rules let `m` be copied to `center` (its zone from the view).
core::Status DatasetService::Impl::CheckResidency(const DatasetManifest& m,
                                                  std::string_view center) const {
  if (config.datasets.residency.empty()) return core::Status::Ok();
  std::string zone;
  bool known = center == config.center.id;
  if (known) zone = config.center.zone;
  for (const federation::ViewEntry& e : view->View(core::SystemClock().Now())) {
    if (e.advert.center == center) {
      zone = e.advert.zone;
      known = true;
    }
  }
  if (!known) {
    return core::Status(
        core::Code::kPermissionDenied,
        "center " + std::string(center) + " is not in the federation view: its zone is unknown",
        "residency");
  }
  core::Status st =
      federation::CheckResidency(config.datasets.residency, m.zone, m.tags, center, zone);
  if (!st.ok()) return core::Status(core::Code::kPermissionDenied, st.message(), "residency");
  return st;
}

void DatasetService::Impl::PeerManifest(HttpRequest& req, const RouteContext& ctx,
                                        Respond respond) {
  if (!Serving(respond)) return;
  std::string for_center = req.peer_center;
  req.QueryParam("for", &for_center);
  PostOr503(respond, [self = shared_from_this(), name = std::string(ctx.Param("name")), for_center,
                      respond] {
    auto m = self->datasets->Get(name);
    if (!m.ok()) return respond(HttpResponse::Error(m.status()));
    if (auto st = self->CheckResidency(*m, for_center); !st.ok()) {
      core::LogWarn("datasets", "refused " + name + " to " + for_center + ": " + st.message());
      return respond(HttpResponse::Error(st));
    }
    respond(HttpResponse::Json(200, json::serialize(json::object{{"dataset", core::ToJson(*m)}})));
  });
}

void DatasetService::Impl::PeerChunk(HttpRequest& req, const RouteContext& ctx, Respond respond) {
  if (!Serving(respond)) return;
  auto index = ParseCount(ctx.Param("index"), "index");
  if (!index.ok()) return respond(HttpResponse::Error(index.status()));
  PostOr503(respond, [self = shared_from_this(), name = std::string(ctx.Param("name")), i = *index,
                      caller = req.peer_center, respond] {
    auto reader = self->datasets->OpenRead(name);
    if (!reader.ok()) return respond(HttpResponse::Error(reader.status()));
    const DatasetManifest& m = (*reader)->manifest();
    if (auto st = self->CheckResidency(m, caller); !st.ok()) {
      return respond(HttpResponse::Error(st));
    }
    if (i >= m.chunk_count()) {
      return respond(HttpResponse::Error(core::NotFound(
          "dataset " + name + " has " + std::to_string(m.chunk_count()) + " chunks", "index")));
    }
    HttpResponse r;
    r.content_type = "application/octet-stream";
    if (auto st = (*reader)->ReadChunk(i, &r.body); !st.ok()) {
      return respond(HttpResponse::Error(st));
    }
    self->bytes_out += r.body.size();
    ++self->chunks_served;
    respond(std::move(r));
  });
}

core::Result<std::unique_ptr<DatasetService>> DatasetService::Create(
    const config::CenterConfig& config, Metrics* metrics) {
  auto impl = std::make_shared<Impl>(config, metrics);
  if (metrics != nullptr) {
    std::weak_ptr<Impl> weak = impl;
    metrics->AddCounter("edwc_dataset_bytes_received_total", "Bytes of dataset uploads stored.",
                        [weak] {
                          auto p = weak.lock();
                          return p ? double(p->bytes_in) : 0.0;
                        });
    metrics->AddCounter("edwc_dataset_chunks_served_total",
                        "Chunks of datasets sent to other centers.", [weak] {
                          auto p = weak.lock();
                          return p ? double(p->chunks_served) : 0.0;
                        });
    metrics->AddCounter("edwc_dataset_bytes_sent_total",
                        "Bytes of datasets sent: downloads and chunks to other centers.", [weak] {
                          auto p = weak.lock();
                          return p ? double(p->bytes_out) : 0.0;
                        });
  }
  return std::unique_ptr<DatasetService>(new DatasetService(std::move(impl)));
}

DatasetService::DatasetService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

DatasetService::~DatasetService() { Stop(); }

core::Status DatasetService::Open(const ViewSource* view) {
  impl_->view = view;
  // Configs built in code leave it empty; the loader's default applies.
  std::string dir = impl_->config.datasets.dir;
  if (dir.empty()) dir = impl_->config.storage.path + ".datasets";
  EDWC_ASSIGN_OR_RETURN(impl_->datasets,
                        storage::DatasetStore::Open(std::move(dir), impl_->config.center.id));
  impl_->open = true;
  return core::Status::Ok();
}

void DatasetService::Stop() {
  impl_->stopped = true;
  impl_->files.Close();  // runs what was posted, then joins
}

storage::DatasetStore& DatasetService::store() { return *impl_->datasets; }

void DatasetService::RegisterRoutes(Router& api, Router& peer) {
  Impl* p = impl_.get();
  const Access brokers = Access::Roles({config::Role::kBroker, config::Role::kOperator});
  const Access readers =
      Access::Roles({config::Role::kBroker, config::Role::kOperator, config::Role::kViewer});
  api.AddUpload(
      "PUT", "/v1/datasets/{name}", brokers,
      [p](HttpRequest& head, const RouteContext& ctx) { return p->BeginUpload(head, ctx); });
  api.Add("GET", "/v1/datasets", readers,
          [p](HttpRequest&, const RouteContext&, Respond respond) { p->List(std::move(respond)); });
  api.Add("GET", "/v1/datasets/{name}", brokers,
          [p](HttpRequest& req, const RouteContext& ctx, Respond respond) {
            p->Download(req, ctx, std::move(respond));
          });
  api.Add("GET", "/v1/datasets/{name}/manifest", readers,
          [p](HttpRequest&, const RouteContext& ctx, Respond respond) {
            p->Manifest(ctx, std::move(respond));
          });
  api.Add("DELETE", "/v1/datasets/{name}", brokers,
          [p](HttpRequest&, const RouteContext& ctx, Respond respond) {
            p->Delete(ctx, std::move(respond));
          });
  peer.Add("GET", "/peer/v1/datasets/{name}/manifest", Access::Public(),
           [p](HttpRequest& req, const RouteContext& ctx, Respond respond) {
             p->PeerManifest(req, ctx, std::move(respond));
           });
  peer.Add("GET", "/peer/v1/datasets/{name}/chunks/{index}", Access::Public(),
           [p](HttpRequest& req, const RouteContext& ctx, Respond respond) {
             p->PeerChunk(req, ctx, std::move(respond));
           });
  peer.MarkRoutine("GET", "/peer/v1/datasets/{name}/chunks/{index}");  // one per chunk
}

}  // namespace edwc::gateway
