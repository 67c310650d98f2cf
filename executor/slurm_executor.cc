#include "executor/slurm_executor.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/accelerator.h"
#include "core/log.h"
#include "executor/slurmrestd.h"

namespace edwc::executor {

namespace json = boost::json;

namespace {

constexpr std::string_view kLog = "slurm";
constexpr int64_t kSlurmInvalidJobId = 2017;  // ESLURM_INVALID_JOB_ID

core::Status Unavailable(std::string message) {
  return core::Status(core::Code::kUnavailable, std::move(message));
}

std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// The first entry of a non-empty `errors` array, as text; nullopt when there is none.
std::optional<std::string> FirstError(const json::object& body, int64_t* code = nullptr) {
  const json::value* errors = body.if_contains("errors");
  if (errors == nullptr || !errors->is_array() || errors->get_array().empty()) return std::nullopt;
  const json::value& first = errors->get_array()[0];
  std::string text;
  if (first.is_object()) {
    const json::object& e = first.get_object();
    for (std::string_view key : {"description", "error"}) {
      const json::value* v = e.if_contains(key);
      if (v != nullptr && v->is_string() && !v->get_string().empty()) {
        if (!text.empty()) text += ": ";
        text += std::string_view(v->get_string());
      }
    }
    for (std::string_view key : {"error_number", "error_code"}) {
      const json::value* v = e.if_contains(key);
      if (code != nullptr && v != nullptr && v->is_int64()) *code = v->get_int64();
    }
  }
  if (text.empty()) text = json::serialize(first);
  return text;
}

int64_t IntOr(const json::object& o, std::string_view key, int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return fallback;
}

std::string StringOr(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

core::Time FromEpochSeconds(int64_t s) {
  return core::Time(std::chrono::duration_cast<core::Duration>(std::chrono::seconds(s)));
}

// Slurm's final job states, by outcome; other states (PENDING, RUNNING, COMPLETING, ...)
// mean the job is not over.
std::optional<JobOutcome::State> FinalState(std::string_view state) {
  static const std::set<std::string_view> kFailed = {
      "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"};
  if (state == "COMPLETED") return JobOutcome::State::kSucceeded;
  if (state == "CANCELLED") return JobOutcome::State::kCancelled;
  if (kFailed.contains(state)) return JobOutcome::State::kFailed;
  return std::nullopt;
}

// A job's followed state.
struct Followed {
  std::string slurm_id;
  core::Time submitted;
};

class SlurmExecutor final : public JobExecutor {
 public:
  SlurmExecutor(SlurmExecutorOptions options, JobEnded on_end, const core::Clock* clock)
      : options_(std::move(options)), on_end_(std::move(on_end)), clock_(clock) {
    for (const auto& [model, type] : options_.model_gres) gres_type_[model] = type;
    thread_ = std::thread([this] { Run(); });
  }

  ~SlurmExecutor() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  core::Result<StartedJob> Start(const JobLaunch& launch) override;
  core::Status Cancel(const std::string& id) override;
  void Recover(const std::vector<std::pair<std::string, std::string>>& running) override;

 private:
  std::string Target(std::string_view rest) const {
    return "/slurm/" + options_.api_version + "/" + std::string(rest);
  }

  // `method` on `target`; the parsed JSON object of a 2xx or error answer, or kUnavailable.
  core::Result<json::object> Call(std::string_view method, const std::string& target,
                                  std::string_view body) const;
  core::Result<std::string> SubmissionBody(const JobLaunch& launch) const;
  // The job's outcome when Slurm says it is over; nullopt while it is not (or on error).
  std::optional<JobOutcome> Poll(const std::string& id, const Followed& job);
  void Run();

  const SlurmExecutorOptions options_;
  const JobEnded on_end_;
  const core::Clock* const clock_;
  std::map<std::string, std::string> gres_type_;  // model -> gres type

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;                                    // GUARDED_BY(mu_)
  std::map<std::string, Followed> jobs_;                     // GUARDED_BY(mu_)
  std::set<std::string> starting_;                           // GUARDED_BY(mu_)
  std::vector<std::pair<std::string, JobOutcome>> reports_;  // GUARDED_BY(mu_)
  std::thread thread_;
};

core::Result<json::object> SlurmExecutor::Call(std::string_view method, const std::string& target,
                                               std::string_view body) const {
  core::Result<json::object> result = [&]() -> core::Result<json::object> {
    EDWC_ASSIGN_OR_RETURN(
        slurmrestd::HttpResponse response,
        slurmrestd::Request(options_.socket_path, method, target, body, options_.io_timeout));
    boost::system::error_code ec;
    json::value parsed = json::parse(response.body, ec);
    if (ec || !parsed.is_object()) {
      return Unavailable(std::string(method) + " " + target + ": HTTP " +
                         std::to_string(response.status) + ": " +
                         slurmrestd::Excerpt(response.body));
    }
    return std::move(parsed.get_object());
  }();
  if (!result.ok()) return result.status().WithContext("slurmrestd at " + options_.socket_path);
  return result;
}

core::Result<std::string> SlurmExecutor::SubmissionBody(const JobLaunch& launch) const {
  json::object job;
  job["name"] = "edwc-" + launch.id;
  job["current_working_directory"] = launch.work_dir;
  job["standard_output"] = launch.work_dir + "/stdout.log";
  job["standard_error"] = launch.work_dir + "/stderr.log";
  job["standard_input"] = "/dev/null";
  if (!launch.devices.empty()) {
    auto type = gres_type_.find(launch.model);
    if (type == gres_type_.end()) {
      return core::InvalidArgument("no slurm gres type for model '" + launch.model + "'", "model");
    }
    job["gres"] = "gpu:" + type->second + ":" + std::to_string(launch.devices.size());
  }
  if (launch.time_limit.count() > 0) {
    job["time_limit"] = (launch.time_limit.count() + 59'999) / 60'000;  // minutes, rounded up
  }
  if (!options_.partition.empty()) job["partition"] = options_.partition;
  json::object env;
  for (const auto& [key, value] : options_.base_env) env[key] = value;
  for (const auto& [key, value] : launch.env) env[key] = value;
  env["EDWC_JOB_ID"] = launch.id;
  job["environment"] = std::move(env);
  json::object submission;
  submission["script"] = SlurmBatchScript(launch.argv);
  submission["job"] = std::move(job);
  return json::serialize(submission);
}

core::Result<StartedJob> SlurmExecutor::Start(const JobLaunch& launch) {
  if (!ValidJobId(launch.id)) {
    return core::InvalidArgument("must be 1-128 chars of [A-Za-z0-9._-]", "id");
  }
  if (launch.argv.empty() || launch.argv[0].empty()) {
    return core::InvalidArgument("must name a command", "argv");
  }
  if (launch.work_dir.empty() || launch.work_dir[0] != '/') {
    return core::InvalidArgument("must be an absolute path", "work_dir");
  }
  EDWC_ASSIGN_OR_RETURN(std::string body, SubmissionBody(launch));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs_.contains(launch.id) || !starting_.insert(launch.id).second) {
      return core::Status(core::Code::kAlreadyExists, "job '" + launch.id + "' is running", "id");
    }
  }
  struct Unreserve {
    SlurmExecutor* self;
    const std::string& id;
    ~Unreserve() {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->starting_.erase(id);
    }
  } unreserve{this, launch.id};
  // Best effort: Slurm reports a directory it cannot use as the job's failure.
  (void)MakeDirLikeParent(launch.work_dir);

  EDWC_ASSIGN_OR_RETURN(json::object answer, Call("POST", Target("job/submit"), body));
  if (std::optional<std::string> error = FirstError(answer)) {
    return core::Status(core::Code::kFailedPrecondition, "slurm refused the job: " + *error);
  }
  const int64_t slurm_id = IntOr(answer, "job_id", 0);
  if (slurm_id <= 0) {
    return Unavailable("slurmrestd answered the submission without a job_id: " +
                       slurmrestd::Excerpt(json::serialize(answer)));
  }
  Followed followed{.slurm_id = std::to_string(slurm_id), .submitted = clock_->Now()};
  StartedJob started{.ref = followed.slurm_id, .started = followed.submitted};
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.emplace(launch.id, std::move(followed));
  }
  core::LogInfo(kLog, "job '" + launch.id + "' submitted as slurm job " + started.ref);
  return started;
}

core::Status SlurmExecutor::Cancel(const std::string& id) {
  std::string slurm_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return core::NotFound("no running job '" + id + "'", "id");
    slurm_id = it->second.slurm_id;
  }
  EDWC_ASSIGN_OR_RETURN(json::object answer, Call("DELETE", Target("job/" + slurm_id), ""));
  if (std::optional<std::string> error = FirstError(answer)) {
    return core::Status(core::Code::kFailedPrecondition,
                        "slurm could not cancel job " + slurm_id + ": " + *error);
  }
  return core::Status::Ok();
}

void SlurmExecutor::Recover(const std::vector<std::pair<std::string, std::string>>& running) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, ref] : running) {
    if (jobs_.contains(id)) continue;
    int64_t slurm_id = 0;
    auto [end, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), slurm_id);
    if (ec != std::errc() || end != ref.data() + ref.size() || slurm_id <= 0) {
      const core::Time now = clock_->Now();
      reports_.emplace_back(id,
                            JobOutcome{.state = JobOutcome::State::kFailed,
                                       .started = now,
                                       .ended = now,
                                       .message = "lost at restart (bad slurm ref '" + ref + "')"});
      continue;
    }
    jobs_.emplace(id, Followed{.slurm_id = ref, .submitted = clock_->Now()});
  }
  wake_.notify_all();
}

std::optional<JobOutcome> SlurmExecutor::Poll(const std::string& id, const Followed& job) {
  core::Result<json::object> answer = Call("GET", Target("job/" + job.slurm_id), "");
  if (!answer.ok()) {
    core::LogWarn(kLog, "following job '" + id + "': " + answer.status().ToString());
    return std::nullopt;
  }
  int64_t code = 0;
  if (std::optional<std::string> error = FirstError(*answer, &code)) {
    if (code != kSlurmInvalidJobId) {
      core::LogWarn(kLog, "following job '" + id + "' (slurm job " + job.slurm_id + "): " + *error);
      return std::nullopt;
    }
    const core::Time now = clock_->Now();
    return JobOutcome{.state = JobOutcome::State::kFailed,
                      .started = job.submitted,
                      .ended = std::max(now, job.submitted),
                      .message = "slurm job " + job.slurm_id + " is no longer known to slurm"};
  }
  const json::value* jobs = answer->if_contains("jobs");
  if (jobs == nullptr || !jobs->is_array() || jobs->get_array().empty() ||
      !jobs->get_array()[0].is_object()) {
    core::LogWarn(kLog, "following job '" + id + "': answer without jobs[0]");
    return std::nullopt;
  }
  const json::object& info = jobs->get_array()[0].get_object();
  const std::string state = StringOr(info, "job_state");
  std::optional<JobOutcome::State> final_state = FinalState(state);
  if (!final_state) return std::nullopt;
  JobOutcome outcome;
  outcome.state = *final_state;
  const int64_t start = IntOr(info, "start_time", 0);
  const int64_t end = IntOr(info, "end_time", 0);
  outcome.ended = end > 0 ? FromEpochSeconds(end) : clock_->Now();
  outcome.started = start > 0 ? FromEpochSeconds(start) : outcome.ended;
  if (outcome.ended < outcome.started) outcome.ended = outcome.started;
  // exit_code is the batch script's raw wait status.
  const int status = static_cast<int>(IntOr(info, "exit_code", 0));
  std::string detail;
  if (WIFSIGNALED(status)) {
    outcome.term_signal = WTERMSIG(status);
    detail = "killed by signal " + std::to_string(outcome.term_signal);
  } else {
    outcome.exit_code = WEXITSTATUS(status);
    detail = "exit " + std::to_string(outcome.exit_code);
  }
  const std::string reason = StringOr(info, "state_reason");
  outcome.message = "slurm job " + job.slurm_id + " " + state;
  if (!reason.empty() && reason != "None") outcome.message += " (" + reason + ")";
  outcome.message += ": " + detail;
  return outcome;
}

void SlurmExecutor::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait_for(lock, options_.poll, [this] { return stopping_ || !reports_.empty(); });
    if (stopping_) return;
    std::vector<std::pair<std::string, JobOutcome>> ended;
    ended.swap(reports_);
    const std::map<std::string, Followed> followed = jobs_;
    lock.unlock();
    for (const auto& [id, job] : followed) {
      if (std::optional<JobOutcome> outcome = Poll(id, job)) ended.emplace_back(id, *outcome);
    }
    lock.lock();
    for (const auto& [id, outcome] : ended) {
      auto it = jobs_.find(id);
      if (it != jobs_.end() && followed.contains(id) &&
          it->second.slurm_id == followed.at(id).slurm_id) {
        jobs_.erase(it);
      }
    }
    lock.unlock();
    for (auto& [id, outcome] : ended) on_end_(id, std::move(outcome));
    lock.lock();
  }
}

core::Status ValidateOptions(const SlurmExecutorOptions& options) {
  if (options.socket_path.empty()) {
    return core::InvalidArgument("must name slurmrestd's unix socket", "socket_path");
  }
  if (options.poll.count() <= 0) return core::InvalidArgument("must be positive", "poll");
  if (options.io_timeout.count() <= 0) {
    return core::InvalidArgument("must be positive", "io_timeout");
  }
  if (options.api_version.empty() ||
      options.api_version.find_first_of("/?# ") != std::string::npos) {
    return core::InvalidArgument("must be a version such as v0.0.38", "api_version");
  }
  std::set<std::string_view> models;
  for (const auto& [model, type] : options.model_gres) {
    if (core::FindAccelerator(model) == nullptr) {
      return core::InvalidArgument("unknown accelerator model '" + model + "'", "model_gres");
    }
    if (!models.insert(model).second) {
      return core::InvalidArgument("model '" + model + "' mapped twice", "model_gres");
    }
    if (type.empty() || type.find_first_of(":,() ") != std::string::npos) {
      return core::InvalidArgument("bad gres type '" + type + "'", "model_gres");
    }
  }
  for (const auto& [key, value] : options.base_env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return core::InvalidArgument("bad variable '" + key + "'", "base_env");
    }
  }
  return core::Status::Ok();
}

}  // namespace

std::string SlurmBatchScript(const std::vector<std::string>& argv) {
  std::string script = "#!/bin/sh\nexec";
  for (const std::string& arg : argv) {
    script += ' ';
    script += ShellQuote(arg);
  }
  return script + "\n";
}

core::Result<JobExecutorPtr> MakeSlurmExecutor(SlurmExecutorOptions options, JobEnded on_end,
                                               const core::Clock* clock) {
  EDWC_RETURN_IF_ERROR(ValidateOptions(options));
  const std::string ping = "/slurm/" + options.api_version + "/ping";
  core::Result<slurmrestd::HttpResponse> response =
      slurmrestd::Request(options.socket_path, "GET", ping, "", options.io_timeout);
  if (!response.ok()) {
    return response.status().WithContext("slurmrestd at " + options.socket_path);
  }
  if (response->status != 200) {
    return Unavailable("slurmrestd at " + options.socket_path + ": GET " + ping + ": HTTP " +
                       std::to_string(response->status) + ": " +
                       slurmrestd::Excerpt(response->body));
  }
  return JobExecutorPtr(
      std::make_unique<SlurmExecutor>(std::move(options), std::move(on_end), clock));
}

}  // namespace edwc::executor
