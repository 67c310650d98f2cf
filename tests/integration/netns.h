// TestNetwork: Linux network namespaces for integration tests that cut the links between
// agents (tests/integration/partition_test.cc). Needs CAP_NET_ADMIN and `ip` (iproute2).
//
// Host i is the namespace edwc-pt-<seconds>-<pid>-<i> with two interfaces:
//   fed  10.231.1.<i+1>/24, the federation link, on a bridge of the hub namespace;
//   ctl  10.231.2.<i+1>/24, the control link, on the hub's "ctl" bridge, never cut.
// The hub (edwc-pt-<seconds>-<pid>-hub) holds the bridges and 10.231.2.254: a thread that
// JoinHub()s reaches every host's control address, so a test's clients talk to the agents'
// api listeners while their federation links are cut. Nothing forwards between the two
// subnets, and nothing is added to the caller's own namespace, so the fixed addresses
// cannot clash with the host's networks or with another run.
//
// Split() gives each side its own bridge (a partition: hosts on one side still reach each
// other) and takes down the port of a host on no side (it is cut off alone); Heal() puts
// every port back on one bridge. The destructor deletes the namespaces (and with them every
// interface), so nothing is left behind; Create also deletes namespaces of this naming
// whose process is gone (a run that was killed).
//
// Not thread-safe; JoinHub and the destructor run on the same thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace edwc::testing {

class TestNetwork {
 public:
  // kUnavailable (with what failed) when namespaces cannot be made: not root, no `ip`,
  // or a container without the capabilities.
  static core::Result<std::unique_ptr<TestNetwork>> Create(size_t hosts);
  ~TestNetwork();
  TestNetwork(const TestNetwork&) = delete;
  TestNetwork& operator=(const TestNetwork&) = delete;

  std::string FedAddress(size_t host) const;
  std::string ControlAddress(size_t host) const;
  // The command prefix that runs a program in the host's namespace.
  std::vector<std::string> Launcher(size_t host) const;

  // Moves the calling thread, and the threads it starts afterwards, into the hub.
  core::Status JoinHub();

  // Each side gets a bridge of its own; a host on no side is cut off. Sides are host
  // indices, each host on at most one side.
  core::Status Split(const std::vector<std::vector<size_t>>& sides);
  // Every host back on one bridge, every port up.
  core::Status Heal();

 private:
  TestNetwork(std::string prefix, std::string ip, size_t hosts);
  core::Status Build();
  core::Status Ip(std::vector<std::string> args) const;  // `ip <args>`; stderr in the error
  std::string Namespace(size_t host) const;
  std::string Hub() const { return prefix_ + "hub"; }

  std::string prefix_;  // "edwc-pt-<seconds>-<pid>-"
  std::string ip_;      // path of the ip binary
  size_t hosts_;
  size_t bridges_ = 1;   // fed0 .. fed<bridges_-1> exist in the hub
  bool built_ = false;   // namespaces to delete
  int home_netns_ = -1;  // the joining thread's namespace, restored at the end
};

}  // namespace edwc::testing
