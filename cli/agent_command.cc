// `edwc agent --config FILE [--check]`: one center's gateway in the foreground.
//
// stdout carries exactly one line once the gateway serves:
//   ready center=<id> api=https://<addr>:<port> peer=https://<addr>:<port> epoch=<n>
// so that supervisors (edwc demo, tests, systemd's notify wrappers) can await it; logs go
// to stderr.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "config/load.h"
#include "core/log.h"
#include "gateway/agent.h"

namespace edwc::cli {

namespace {

constexpr char kHelp[] = R"(Usage: edwc agent --config FILE [--check]

Runs one center's gateway until SIGINT or SIGTERM, then drains in-flight requests.
  --config FILE  the center's YAML configuration (docs/configuration.md)
  --check        validate the configuration and TLS files, print a summary, exit
Exit status: 0 clean stop, 1 runtime failure or drain timeout, 2 invalid configuration.

Example:
  edwc agent --config /etc/edwc/center.yaml --check
)";

std::string UrlHost(const std::string& address) {
  return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

}  // namespace

int AgentCommand(int argc, char** argv) {
  Args args("edwc agent", {"config"}, {"check", "help"});
  if (auto st = args.Parse(argc, argv, 2); !st.ok()) {
    std::fprintf(stderr, "edwc agent: %s\n", st.message().c_str());
    return kExitUsage;
  }
  if (args.Has("help")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  auto path = args.Require("config");
  if (!path.ok()) {
    std::fprintf(stderr, "edwc agent: %s\n\n%s", path.status().message().c_str(), kHelp);
    return kExitUsage;
  }
  std::vector<config::ConfigError> errors;
  auto config = config::LoadCenterConfig(*path, &errors);
  if (!config.ok()) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    if (errors.empty()) std::fprintf(stderr, "%s\n", config.status().message().c_str());
    std::fprintf(stderr, "edwc agent: %zu problem%s in %s\n", errors.size(),
                 errors.size() == 1 ? "" : "s", path->c_str());
    return kExitUsage;
  }
  if (auto st = gateway::Agent::CheckTls(*config); !st.ok()) {
    std::fprintf(stderr, "%s: %s\n", config->source_file.c_str(), st.ToString().c_str());
    return kExitUsage;
  }
  if (args.Has("check")) {
    int devices = 0;
    for (const auto& e : config->capacity.inventory) devices += e.count;
    std::printf("ok: %s: center %s (%s, hub %s), api %s:%u, %zu model%s, %d devices, %zu token%s\n",
                config->source_file.c_str(), config->center.id.c_str(), config->center.city.c_str(),
                config->center.hub.c_str(), config->api.address.c_str(), config->api.port,
                config->capacity.inventory.size(),
                config->capacity.inventory.size() == 1 ? "" : "s", devices, config->tokens.size(),
                config->tokens.size() == 1 ? "" : "s");
    return kExitOk;
  }

  const std::string address = config->api.address;
  auto agent = gateway::Agent::Start(std::move(config).value(), /*handle_signals=*/true);
  if (!agent.ok()) {
    core::LogError("agent", "start failed: " + agent.status().ToString());
    return kExitFailure;
  }
  const auto& a = **agent;
  core::LogInfo("agent", "center " + a.config().center.id + " serving on https://" +
                             UrlHost(address) + ":" + std::to_string(a.api_port()) + " (epoch " +
                             std::to_string(a.epoch()) + ")");
  std::printf("ready center=%s api=https://%s:%u peer=https://%s:%u epoch=%llu\n",
              a.config().center.id.c_str(), UrlHost(address).c_str(), a.api_port(),
              UrlHost(a.config().peer.address).c_str(), a.peer_port(),
              static_cast<unsigned long long>(a.epoch()));
  std::fflush(stdout);
  return (*agent)->Wait() == 0 ? kExitOk : kExitFailure;
}

}  // namespace edwc::cli
