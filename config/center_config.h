// The typed, immutable configuration of one center's gateway, parsed once from YAML
// (config/load.h). Every option is documented here and in docs/configuration.md.
// Paths are absolute after loading (relative paths resolve against the config file's
// directory). Plain value types; thread-safe once built.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dataset.h"
#include "core/log.h"
#include "core/money.h"
#include "core/price_schedule.h"

namespace edwc::config {

enum class Role { kViewer, kBroker, kFinance, kOperator };
std::string_view RoleName(Role role);

struct Location {
  double lat = 0;  // degrees north, -90..90 (coordinates are not money: double is fine)
  double lon = 0;  // degrees east, -180..180
  bool operator==(const Location&) const = default;
};

// center: who this center is.
struct CenterIdentity {
  std::string id;    // CenterId syntax; must match the certificate's SAN URI
  std::string name;  // display name, e.g. "Zhongwei Intelligent Computing Center"
  std::string hub;   // national hub: one of kHubs in config/load.cc (e.g. "ningxia")
  std::string city;  // e.g. "Zhongwei"
  std::string zone;  // data-residency zone, e.g. "cn-northwest"
  Location location;
  // Optional, advertised so brokers can prefer greener centers: the share of its power
  // from renewables (0..1000 permille, config `green_share_percent`) and its power usage
  // effectiveness x 1000 (config `pue: "1.20"` -> 1200); 0 = not stated.
  int32_t green_share_permille = 0;
  int32_t pue_milli = 0;
  bool operator==(const CenterIdentity&) const = default;
};

struct Listener {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal to bind
  uint16_t port = 0;                  // 0 = any free port (printed at start)
  bool operator==(const Listener&) const = default;
};

// tls: PEM files. The CA is the federation CA (peers, and clients that verify us).
struct TlsFiles {
  std::string ca;    // federation CA certificate
  std::string cert;  // this center's certificate (SAN URI edwc://center/<id>)
  std::string key;   // its private key
  bool operator==(const TlsFiles&) const = default;
};

// server: limits and threads of the HTTPS listeners.
struct ServerLimits {
  int io_threads = 2;                       // threads running the io_context, 1..64
  int max_connections = 10000;              // open connections per listener; more are refused
  uint32_t header_limit_bytes = 16 * 1024;  // larger request headers get 431
  uint32_t url_limit_bytes = 8 * 1024;      // longer request targets get 414
  uint64_t body_limit_bytes = 1024 * 1024;  // larger bodies get 413
  std::chrono::milliseconds handshake_timeout{5000};
  std::chrono::milliseconds read_timeout{15000};   // for one whole request once started
  std::chrono::milliseconds write_timeout{15000};  // for one whole response
  std::chrono::milliseconds idle_timeout{60000};   // keep-alive wait for the next request
  std::chrono::milliseconds drain_timeout{10000};  // on SIGTERM, longest wait for in-flight
  bool operator==(const ServerLimits&) const = default;
};

// rate_limits: how many requests one caller may make, as a token bucket: `per_second` on
// average, up to `burst` at once. Off (no limit) while per_second is 0, the default.
struct RateLimit {
  uint32_t per_second = 0;
  uint32_t burst = 0;  // >= 1 when per_second is set; defaults to per_second
  bool operator==(const RateLimit&) const = default;
};
struct RateLimits {
  RateLimit per_token;  // each API bearer token (by name), on routes that need one
  RateLimit per_peer;   // each peer center (by its certificate), on the peer listener
  bool operator==(const RateLimits&) const = default;
};

struct InventoryEntry {
  std::string model;  // accelerator model id from the catalog (core/accelerator.h)
  int32_t count = 0;  // devices, >= 1
  bool operator==(const InventoryEntry&) const = default;
};

// capacity.slurm: capacity read from slurmrestd.
struct SlurmConfig {
  std::string socket;  // slurmrestd's unix socket
  std::chrono::milliseconds refresh{5000};
  // Slurm GRES type -> catalog model ("a100" -> "a100-80g"), in config order.
  std::vector<std::pair<std::string, std::string>> gres_models;
  bool operator==(const SlurmConfig&) const = default;
};

// capacity: where total/used accelerators come from.
struct CapacityConfig {
  enum class Source { kStatic, kSlurm };
  Source source = Source::kStatic;
  std::vector<InventoryEntry> inventory;  // static: the devices this center has
  SlurmConfig slurm;                      // slurm: where to read them
  bool operator==(const CapacityConfig&) const = default;
};

struct ModelPrice {
  std::string model;
  core::PriceSchedule schedule;  // per_device_hour (base) and time_of_use windows
  bool operator==(const ModelPrice&) const = default;
};

// pricing: the center's price list (illustrative in examples).
struct PriceList {
  std::vector<ModelPrice> models;  // one per inventory model
  core::Money egress_per_gb;       // data leaving this center
  // pricing.surge: {above_percent, max_extra_percent}; prices rise linearly once
  // utilisation is above the threshold. Default: no surge.
  core::SurgeRule surge;
  bool operator==(const PriceList&) const = default;
};

struct TokenEntry {
  std::string name;  // who holds it, for logs: "acme-broker"
  Role role = Role::kViewer;
  std::string sha256;  // lowercase hex SHA-256 of the bearer token
  bool operator==(const TokenEntry&) const = default;
};

struct StorageConfig {
  std::string path;  // RocksDB directory (created if missing)
  bool operator==(const StorageConfig&) const = default;
};

// federation.links: what this center knows of its network path to another.
struct LinkConfig {
  std::string center;
  int64_t bandwidth_mbps = 0;
  int32_t rtt_ms = 0;
  bool operator==(const LinkConfig&) const = default;
};

// federation.gossip: how adverts spread (federation/gossip.h).
struct GossipSettings {
  int fanout = 3;
  std::chrono::milliseconds round{200};
  std::chrono::milliseconds anti_entropy{1000};
  std::chrono::milliseconds advert_ttl{60000};
  std::chrono::milliseconds refresh{20000};
  bool operator==(const GossipSettings&) const = default;
};

// federation: peers, revocations, links. Optional as a whole (a lone center).
struct FederationConfig {
  std::vector<std::string> seeds;    // peer URLs ("https://10.1.2.3:7401") to join through
  std::vector<std::string> revoked;  // center ids refused everywhere; reloaded live
  std::vector<LinkConfig> links;
  GossipSettings gossip;
  bool operator==(const FederationConfig&) const = default;
};

// jobs: how this center places its brokers' jobs and runs the jobs it is given. Jobs run
// through the executor that matches capacity.source: static -> process, slurm -> slurm.
struct JobSettings {
  std::string work_dir;  // job directories (stdout, stderr); default <storage.path>.jobs
  // How long a router asks a target to hold devices before it commits (1s..5m).
  std::chrono::milliseconds hold_ttl{30000};
  // How often a router asks the executing center about its jobs (100ms..1m).
  std::chrono::milliseconds poll{1000};
  bool operator==(const JobSettings&) const = default;
};

// datasets: where this center keeps datasets and how it moves them (docs/datasets.md).
struct DatasetSettings {
  std::string dir;  // dataset files and manifests; default <storage.path>.datasets
  int64_t chunk_size_bytes = core::kDefaultChunkSize;  // of uploads here (64 KiB..64 MiB)
  int32_t streams = 8;  // chunks one incoming transfer fetches at once (1..64)
  // Where datasets may be copied; checked at both ends of a transfer, in order.
  std::vector<core::ResidencyRule> residency;
  bool operator==(const DatasetSettings&) const = default;
};

struct CreditLimit {
  std::string center;
  core::Money limit;
  bool operator==(const CreditLimit&) const = default;
};

// credit: how much unpaid net debt a counterparty may run up with us before our capacity
// is refused to it (until it is under again). No limit when neither applies.
struct CreditConfig {
  bool has_default = false;
  core::Money default_limit;        // for every center not in `limits`, when has_default
  std::vector<CreditLimit> limits;  // per center, overriding the default
  bool operator==(const CreditConfig&) const = default;
};

struct CenterConfig {
  std::string source_file;  // absolute path of the YAML it came from
  CenterIdentity center;
  Listener api;
  Listener peer;
  TlsFiles tls;
  StorageConfig storage;
  ServerLimits server;
  CapacityConfig capacity;
  PriceList pricing;
  std::vector<TokenEntry> tokens;  // auth.tokens
  FederationConfig federation;
  JobSettings jobs;
  DatasetSettings datasets;
  CreditConfig credit;
  RateLimits rate_limits;  // applied without a restart
  // log: format (text, json), level and the access log; all applied without a restart.
  core::LogSettings log;
  bool operator==(const CenterConfig&) const = default;
};

}  // namespace edwc::config
