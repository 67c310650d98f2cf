// JobData (see transfer_service_impl.h): a job's inputs are fetched here with transfers
// before it starts, and what it leaves in its output directory is stored as a dataset.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "core/log.h"
#include "federation/holds.h"
#include "federation/transfer.h"
#include "gateway/federation_service.h"
#include "gateway/hold_service.h"
#include "gateway/transfer_service_impl.h"

namespace edwc::gateway {

using federation::TransferRecord;
using federation::TransferState;
using transfer_internal::PeerError;

namespace {

// The file of `dataset` in the dataset store at `root`.
std::string DataFile(const std::string& root, const std::string& dataset) {
  return (std::filesystem::path(root) / dataset / "data").string();
}

core::Status Changed(const federation::JobInput& input) {
  return core::Status(
      core::Code::kFailedPrecondition,
      "input " + input.dataset + " changed at " + input.center + " since the job was submitted");
}

// The transfer that fetches `input` here as the dataset `name`: always straight from its
// center, as a relay would have to be asked first.
TransferRecord InputRecord(const std::string& name, const federation::JobInput& input,
                           core::DatasetManifest m, const federation::TransferPlan& plan,
                           const std::string& here, core::Time now) {
  TransferRecord r;
  r.id = name;
  r.dataset = name;
  r.manifest = std::move(m);
  r.plan = plan;
  r.source_center = input.center;
  r.dest_center = here;
  r.created_at = r.updated_at = now;
  r.requested_by = "jobs@" + here;
  if (r.plan.relay) {
    r.plan.legs.resize(1);
    r.plan.relay.reset();
    r.plan.eta = r.plan.direct_eta;
    r.plan.egress = r.plan.direct_egress;
  }
  return r;
}

}  // namespace

void TransferService::Impl::WhenEnded(const std::string& id,
                                      std::function<void(core::Status)> done) {
  std::optional<TransferRecord> ended;
  {
    std::lock_guard lock(mu);
    auto it = incoming.find(id);
    if (it != incoming.end() && federation::IsTerminal(it->second->rx.record().state) &&
        !it->second->finishing) {
      ended = it->second->rx.record();
    } else {
      end_waiters[id].push_back(std::move(done));
      return;
    }
  }
  if (ended->state == TransferState::kDone) return done(core::Status::Ok());
  done(core::Status(core::Code::kFailedPrecondition,
                    "transfer " + id + " " + std::string(TransferStateName(ended->state)) +
                        (ended->error.empty() ? "" : ": " + ended->error)));
}

void TransferService::Impl::NotifyEnded(const TransferRecord& r) {
  std::vector<std::function<void(core::Status)>> waiting;
  {
    std::lock_guard lock(mu);
    auto it = end_waiters.find(r.id);
    if (it == end_waiters.end()) return;
    waiting = std::move(it->second);
    end_waiters.erase(it);
  }
  core::Status st =
      r.state == TransferState::kDone
          ? core::Status::Ok()
          : core::Status(core::Code::kFailedPrecondition,
                         "transfer " + r.id + " " + std::string(TransferStateName(r.state)) +
                             (r.error.empty() ? "" : ": " + r.error));
  for (auto& w : waiting) w(st);
}

// Makes one job input present here (one copy per content, reused by later jobs) and
// answers with its file.
void TransferService::Impl::Stage(const federation::JobInput& input,
                                  std::function<void(core::Status, std::string)> done) {
  const std::string name = "in." + input.sha256.substr(0, 16) + "." + input.dataset.substr(0, 100);
  auto have = datasets->Get(input.center == config.center.id ? input.dataset : name);
  if (have.ok()) {
    if (have->sha256 != input.sha256) return done(Changed(input), {});
    return done(core::Status::Ok(), DataFile(datasets->root(), have->name));
  }
  if (input.center == config.center.id) return done(have.status(), {});
  GetManifest(input.center, input.dataset, config.center.id,
              [self = shared_from_this(), input, name,
               done](core::Result<core::DatasetManifest> m) mutable {
                self->StageFrom(input, name, std::move(m), std::move(done));
              });
}

// Stage, once the manifest of an input that is elsewhere came: pulls it here.
void TransferService::Impl::StageFrom(const federation::JobInput& input, const std::string& name,
                                      core::Result<core::DatasetManifest> m,
                                      std::function<void(core::Status, std::string)> done) {
  if (!m.ok()) return done(m.status().WithContext("input " + input.dataset), {});
  if (m->sha256 != input.sha256) return done(Changed(input), {});
  federation::TransferPlanRequest q{input.center,  config.center.id, m->size,
                                    m->chunk_size, m->zone,          m->tags};
  auto plan = federation::PlanTransfer(q, view->View(clock->Now()), config.datasets.residency);
  if (!plan.ok()) return done(plan.status().WithContext("input " + input.dataset), {});
  TransferRecord r =
      InputRecord(name, input, std::move(m).value(), *plan, config.center.id, clock->Now());
  auto self = shared_from_this();
  auto when_done = [self, name, done, root = datasets->root()](core::Status st) {
    done(st, st.ok() ? DataFile(root, name) : std::string());
  };
  auto created = [self, name, when_done](HttpResponse answer) {
    if (answer.status >= 300) {
      core::Result<PeerResponse> as_peer = PeerResponse{answer.status, answer.body, ""};
      return when_done(PeerError("here", as_peer));
    }
    self->WhenEnded(name, when_done);
  };
  CreateIncoming(std::move(r), config.center.id, std::move(created));
}

class TransferService::Impl::Data final : public JobData {
 public:
  explicit Data(Impl* impl) : impl_(impl) {}

  void StageInputs(const std::string& hold_id, const std::vector<federation::JobInput>& inputs,
                   std::function<void(core::Status, std::vector<std::string>)> done) override {
    struct Pending {
      std::mutex mu;
      size_t left;
      std::vector<std::string> paths;
      core::Status first_error;
      std::function<void(core::Status, std::vector<std::string>)> done;
    };
    if (inputs.empty()) return done(core::Status::Ok(), {});
    auto pending = std::make_shared<Pending>();
    pending->left = inputs.size();
    pending->paths.resize(inputs.size());
    pending->done = std::move(done);
    core::LogInfo("transfers",
                  "staging " + std::to_string(inputs.size()) + " inputs of " + hold_id);
    for (size_t i = 0; i < inputs.size(); ++i) {
      impl_->Stage(inputs[i], [pending, i](core::Status st, std::string path) {
        std::unique_lock lock(pending->mu);
        if (st.ok()) pending->paths[i] = std::move(path);
        if (!st.ok() && pending->first_error.ok()) pending->first_error = st;
        if (--pending->left > 0) return;
        lock.unlock();
        pending->done(pending->first_error, std::move(pending->paths));
      });
    }
  }

  core::Result<std::optional<federation::JobOutput>> StoreOutput(const std::string& name,
                                                                 const std::string& dir) override {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
    if (ec || entries.empty()) return std::optional<federation::JobOutput>();
    // One regular file is kept as it is; anything else as a tar of the directory.
    fs::path source = entries.front();
    fs::path tar;
    if (entries.size() != 1 || !fs::is_regular_file(source, ec)) {
      tar = fs::path(dir).parent_path() / "output.tar";
      EDWC_RETURN_IF_ERROR(Tar(dir, tar.string()));
      source = tar;
    }
    auto stored = Upload(name, source.string());
    if (!tar.empty()) fs::remove(tar, ec);
    if (!stored.ok()) return stored.status();
    return std::optional<federation::JobOutput>(
        federation::JobOutput{stored->name, stored->size, stored->sha256});
  }

 private:
  static core::Status Tar(const std::string& dir, const std::string& out) {
    std::vector<std::string> args = {"tar", "-cf", out, "-C", dir, "."};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = posix_spawnp(&pid, "tar", nullptr, nullptr, argv.data(), environ); rc != 0) {
      return core::IoError("cannot run tar: " + std::string(std::strerror(rc)));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return core::IoError("tar of " + dir + " failed");
    }
    return core::Status::Ok();
  }

  core::Result<core::DatasetManifest> Upload(const std::string& name, const std::string& file) {
    EDWC_ASSIGN_OR_RETURN(auto upload,
                          impl_->datasets->BeginUpload(name, impl_->config.center.zone, {},
                                                       impl_->config.datasets.chunk_size_bytes));
    std::ifstream in(file, std::ios::binary);
    std::string piece(1 << 20, '\0');
    while (in) {
      in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
      const std::streamsize n = in.gcount();
      if (n <= 0) break;
      EDWC_RETURN_IF_ERROR(upload->Append(std::string_view(piece.data(), static_cast<size_t>(n))));
    }
    if (in.bad()) return core::IoError("cannot read " + file);
    return upload->Commit();
  }

  Impl* impl_;
};

std::unique_ptr<JobData> TransferService::Impl::NewJobData() {
  return std::make_unique<Data>(this);
}

}  // namespace edwc::gateway
