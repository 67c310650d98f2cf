#include "tests/integration/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

extern char** environ;

namespace edwc::testing {

namespace {

constexpr const char* kFedSubnet = "10.231.1.";
constexpr const char* kControlSubnet = "10.231.2.";
constexpr const char* kPrefix = "edwc-pt-";

core::Status Unavailable(std::string message) {
  return core::Status(core::Code::kUnavailable, std::move(message));
}

std::string FindIp() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs argv to its end; its stderr on failure.
core::Status Run(const std::vector<std::string>& argv) {
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) return Unavailable("pipe: " + std::to_string(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(err[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;)
    said.append(buf, static_cast<size_t>(n));
  close(err[0]);
  std::string line;
  for (const std::string& a : argv) line += (line.empty() ? "" : " ") + a;
  if (spawned != 0) return Unavailable(line + ": cannot start: " + std::to_string(spawned));
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Unavailable(line + ": " + (said.empty() ? "failed" : said));
  }
  return core::Status::Ok();
}

// Namespaces of this naming whose run is gone (killed before it could delete them): the
// pid in the name is not alive.
std::vector<std::string> Leftovers() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const size_t dash = name.find('-', std::char_traits<char>::length(kPrefix));
    if (dash == std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + dash + 1, nullptr, 10));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) out.push_back(name);
  }
  return out;
}

}  // namespace

TestNetwork::TestNetwork(std::string prefix, std::string ip, size_t hosts)
    : prefix_(std::move(prefix)), ip_(std::move(ip)), hosts_(hosts) {}

core::Result<std::unique_ptr<TestNetwork>> TestNetwork::Create(size_t hosts) {
  std::string ip = FindIp();
  if (ip.empty()) return Unavailable("no `ip` command (Debian: apt-get install iproute2)");
  for (const std::string& old : Leftovers()) (void)Run({ip, "netns", "delete", old});
  std::unique_ptr<TestNetwork> net(new TestNetwork(
      kPrefix + std::to_string(NowSeconds()) + "-" + std::to_string(getpid()) + "-", ip, hosts));
  if (auto st = net->Build(); !st.ok()) return st;
  return net;
}

TestNetwork::~TestNetwork() {
  if (home_netns_ >= 0) {
    setns(home_netns_, CLONE_NEWNET);
    close(home_netns_);
  }
  if (!built_) return;
  // Deleting a namespace destroys its interfaces, and with them both ends of every veth.
  for (size_t i = 0; i < hosts_; ++i) (void)Ip({"netns", "delete", Namespace(i)});
  (void)Ip({"netns", "delete", Hub()});
}

core::Status TestNetwork::Ip(std::vector<std::string> args) const {
  args.insert(args.begin(), ip_);
  return Run(args);
}

std::string TestNetwork::Namespace(size_t host) const { return prefix_ + std::to_string(host); }

std::string TestNetwork::FedAddress(size_t host) const {
  return kFedSubnet + std::to_string(host + 1);
}

std::string TestNetwork::ControlAddress(size_t host) const {
  return kControlSubnet + std::to_string(host + 1);
}

std::vector<std::string> TestNetwork::Launcher(size_t host) const {
  return {ip_, "netns", "exec", Namespace(host)};
}

core::Status TestNetwork::Build() {
  built_ = true;  // from the first namespace on, the destructor cleans up
  const std::string hub = Hub();
  std::vector<std::vector<std::string>> steps = {
      {"netns", "add", hub},
      {"-n", hub, "link", "add", "ctl", "type", "bridge"},
      {"-n", hub, "link", "add", "fed0", "type", "bridge"},
      {"-n", hub, "addr", "add", std::string(kControlSubnet) + "254/24", "dev", "ctl"},
      {"-n", hub, "link", "set", "ctl", "up"},
      {"-n", hub, "link", "set", "fed0", "up"}};
  for (size_t i = 0; i < hosts_; ++i) {
    const std::string ns = Namespace(i), n = std::to_string(i);
    const std::vector<std::vector<std::string>> host = {
        {"netns", "add", ns},
        {"-n", ns, "link", "set", "lo", "up"},
        {"-n", hub, "link", "add", "fp" + n, "type", "veth", "peer", "name", "fed", "netns", ns},
        {"-n", hub, "link", "add", "cp" + n, "type", "veth", "peer", "name", "ctl", "netns", ns},
        {"-n", hub, "link", "set", "fp" + n, "master", "fed0", "up"},
        {"-n", hub, "link", "set", "cp" + n, "master", "ctl", "up"},
        {"-n", ns, "addr", "add", FedAddress(i) + "/24", "dev", "fed"},
        {"-n", ns, "addr", "add", ControlAddress(i) + "/24", "dev", "ctl"},
        {"-n", ns, "link", "set", "fed", "up"},
        {"-n", ns, "link", "set", "ctl", "up"}};
    steps.insert(steps.end(), host.begin(), host.end());
  }
  for (const auto& step : steps) {
    if (auto st = Ip(step); !st.ok()) return st;
  }
  return core::Status::Ok();
}

core::Status TestNetwork::JoinHub() {
  home_netns_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int hub = open(("/run/netns/" + Hub()).c_str(), O_RDONLY | O_CLOEXEC);
  const bool joined = home_netns_ >= 0 && hub >= 0 && setns(hub, CLONE_NEWNET) == 0;
  const int error = errno;
  if (hub >= 0) close(hub);
  if (joined) return core::Status::Ok();
  return Unavailable("cannot enter " + Hub() + ": errno " + std::to_string(error));
}

core::Status TestNetwork::Split(const std::vector<std::vector<size_t>>& sides) {
  for (; bridges_ < sides.size(); ++bridges_) {
    const std::string bridge = "fed" + std::to_string(bridges_);
    if (auto st = Ip({"-n", Hub(), "link", "add", bridge, "type", "bridge"}); !st.ok()) return st;
    if (auto st = Ip({"-n", Hub(), "link", "set", bridge, "up"}); !st.ok()) return st;
  }
  std::vector<std::string> bridge_of(hosts_);
  for (size_t s = 0; s < sides.size(); ++s) {
    for (size_t host : sides[s]) bridge_of.at(host) = "fed" + std::to_string(s);
  }
  for (size_t i = 0; i < hosts_; ++i) {
    const std::string port = "fp" + std::to_string(i);
    auto st = bridge_of[i].empty()
                  ? Ip({"-n", Hub(), "link", "set", port, "down"})
                  : Ip({"-n", Hub(), "link", "set", port, "master", bridge_of[i], "up"});
    if (!st.ok()) return st;
  }
  return core::Status::Ok();
}

core::Status TestNetwork::Heal() {
  std::vector<size_t> all(hosts_);
  for (size_t i = 0; i < hosts_; ++i) all[i] = i;
  return Split({all});
}

}  // namespace edwc::testing
