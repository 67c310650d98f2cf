// Durable settlements per second through the gateway's write path (gateway::Ledger::Issue:
// sequence number, hash, the store's group-committed write; the ECDSA signature is made when a
// record is first offered, off this path), and a crash
// check for bench/settlement_vs_db_bench.sh.
//
//   settlement_bench --dir DIR --writers N --seconds S [--payers P]
//       N threads each keep one settlement in flight: build a compute draft, Issue it
//       (it returns once durable), repeat. After a 0.5 s warm-up
//       (this VM's untouched memory is slow on first use) it counts acknowledged
//       settlements for S seconds and prints one JSON line:
//       {"writers","settlements","seconds","per_sec","value_bytes","batch_bytes"}
//       value_bytes: mean size of a stored e/ record; batch_bytes: mean keys and values a
//       settlement writes (e/ and i/ keys).
//   settlement_bench --dir DIR --writers N --ack-log
//       Runs until killed; prints each settlement id on stdout, one write(2) per line,
//       only after Issue returned (durable).
//   settlement_bench --dir DIR --check ACKFILE
//       Reopens DIR; every id in ACKFILE must be in the ledger and every chain must hold
//       (Ledger::Verify without signatures). Prints {"acked","lost","chains","broken"};
//       exits 1 when anything is lost or broken. An unterminated last line (the kill
//       landed mid-line) was never a whole acknowledgement and is skipped.
//
// DIR holds the database (DIR/db) and a dev CA and the payee's certificate (DIR/certs),
// made on first use and reused by --check.
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "core/money.h"
#include "core/time.h"
#include "federation/advert.h"
#include "federation/settlement.h"
#include "gateway/advert_crypto.h"
#include "gateway/certs.h"
#include "gateway/ledger.h"
#include "storage/store.h"

namespace {

using namespace edwc;
namespace fs = std::filesystem;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

constexpr char kPayee[] = "bench-payee";
constexpr auto kWarmUp = std::chrono::milliseconds(500);
constexpr size_t kSizeSample = 10000;  // records read back to measure sizes

struct Args {
  std::string dir;
  int writers = 1;
  double seconds = 3;
  int payers = 8;
  bool ack_log = false;
  std::string check;
};

[[noreturn]] void Usage() {
  std::fprintf(stderr,
               "usage: settlement_bench --dir DIR --writers N --seconds S [--payers P]\n"
               "       settlement_bench --dir DIR --writers N --ack-log [--payers P]\n"
               "       settlement_bench --dir DIR --check ACKFILE\n");
  std::exit(2);
}

[[noreturn]] void Fail(std::string_view what, const core::Status& status) {
  std::fprintf(stderr, "settlement_bench: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
  std::exit(1);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (flag == "--dir") {
      a.dir = value();
    } else if (flag == "--writers") {
      a.writers = std::atoi(value().c_str());
    } else if (flag == "--seconds") {
      a.seconds = std::atof(value().c_str());
    } else if (flag == "--payers") {
      a.payers = std::atoi(value().c_str());
    } else if (flag == "--ack-log") {
      a.ack_log = true;
    } else if (flag == "--check") {
      a.check = value();
    } else {
      Usage();
    }
  }
  if (a.dir.empty() || a.writers < 1 || a.payers < 1 || a.seconds <= 0) Usage();
  return a;
}

// The ledger and everything it needs, opened on DIR.
struct Center {
  core::SystemClock clock;
  std::unique_ptr<federation::AdvertSigner> signer;
  storage::StorePtr store;
  std::unique_ptr<gateway::Ledger> ledger;

  ~Center() {
    ledger.reset();  // before the store it writes to
    store.reset();
  }
};

std::unique_ptr<Center> OpenCenter(const std::string& dir) {
  const std::string certs = dir + "/certs";
  if (!fs::exists(certs + "/center.pem")) {
    if (auto st = gateway::InitDevCa(dir + "/ca"); !st.ok()) Fail("dev CA", st);
    if (auto st = gateway::IssueCenterCert(dir + "/ca", kPayee, certs); !st.ok()) {
      Fail("center certificate", st);
    }
  }
  auto c = std::make_unique<Center>();
  auto signer = gateway::MakeAdvertSigner(certs + "/center.pem", certs + "/center.key");
  if (!signer.ok()) Fail("signer", signer.status());
  c->signer = std::move(signer).value();
  storage::StoreOptions options;
  options.path = dir + "/db";
  auto store = storage::Store::Open(options);
  if (!store.ok()) Fail("store", store.status());
  c->store = std::move(store).value();
  auto ledger = gateway::Ledger::Open(c->store.get(), kPayee, c->signer.get(), &c->clock);
  if (!ledger.ok()) Fail("ledger", ledger.status());
  c->ledger = std::move(ledger).value();
  return c;
}

// A compute settlement as ComputeSettlement builds one for a finished hold: 8 H20s for
// about an hour at a firm price.
federation::SettlementBody Draft(const std::string& payer, core::Time now, uint64_t n) {
  federation::SettlementBody b;
  b.kind = federation::SettlementKind::kCompute;
  b.source = core::NewRandomId("hold");
  b.id = federation::SettlementId(b.kind, b.source);
  b.payee = kPayee;
  b.payer = payer;
  b.job = core::NewRandomId("job");
  b.model = "h20";
  b.devices = 8;
  const int64_t run_ms = 3'600'000 + static_cast<int64_t>(n % 1800) * 1000;
  b.period_end = now - std::chrono::seconds(5);
  b.period_start = b.period_end - core::Duration(run_ms);
  b.accelerator_ms = b.devices * run_ms;
  // round_half_away(accelerator_ms x 148 TFLOPS (H20 dense FP16) / 3600)
  b.pflops_microhours = (b.accelerator_ms * 148 + 1800) / 3600;
  b.unit_price = core::Money::Fen(1850);  // per device-hour
  b.amount = b.unit_price.MulDiv(b.accelerator_ms, 3'600'000).value();
  return b;
}

void WriteLine(const std::string& line) {
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(STDOUT_FILENO, line.data() + off, line.size() - off);
    if (n < 0) std::exit(1);  // stdout closed: nothing more can be reported
    off += static_cast<size_t>(n);
  }
}

struct Run {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> failed{false};
};

void Writer(gateway::Ledger& ledger, const core::Clock& clock, const Args& args, int index,
            Run& run) {
  for (uint64_t n = static_cast<uint64_t>(index); !run.stop.load(std::memory_order_relaxed);
       n += static_cast<uint64_t>(args.writers)) {
    const std::string payer = "payer-" + std::to_string(n % static_cast<uint64_t>(args.payers));
    federation::SettlementBody draft = Draft(payer, clock.Now(), n);
    const std::string id = draft.id;
    auto issued = ledger.Issue(std::move(draft));  // returns once durable
    if (!issued.ok() || !issued->created) {
      std::fprintf(stderr, "settlement_bench: issue %s: %s\n", id.c_str(),
                   issued.ok() ? "already existed" : issued.status().ToString().c_str());
      run.failed = true;
      run.stop = true;
      return;
    }
    run.acked.fetch_add(1, std::memory_order_relaxed);
    if (args.ack_log) WriteLine(id + "\n");
  }
}

// Mean bytes of up to kSizeSample entries under `prefix`: {key + value, value}.
std::pair<double, double> MeanSizes(storage::Store& store, std::string_view prefix) {
  uint64_t n = 0, keys = 0, values = 0;
  auto st = store.Scan(storage::Cf::kLedger, prefix, [&](std::string_view k, std::string_view v) {
    keys += k.size();
    values += v.size();
    return ++n < kSizeSample;
  });
  if (!st.ok()) Fail("scan", st);
  if (n == 0) return {0, 0};
  return {static_cast<double>(keys + values) / n, static_cast<double>(values) / n};
}

int Timed(const Args& args) {
  auto center = OpenCenter(args.dir);
  Run run;
  std::vector<std::thread> threads;
  for (int i = 0; i < args.writers; ++i) {
    threads.emplace_back([&, i] { Writer(*center->ledger, center->clock, args, i, run); });
  }
  std::this_thread::sleep_for(kWarmUp);
  const uint64_t acked0 = run.acked.load();
  const auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(args.seconds));
  const uint64_t acked1 = run.acked.load();
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  run.stop = true;
  for (auto& t : threads) t.join();
  if (run.failed) return 1;

  const auto [entry_total, entry_value] = MeanSizes(*center->store, "e/");
  const double index_total = MeanSizes(*center->store, "i/").first;
  const uint64_t settlements = acked1 - acked0;
  // By hand rather than json::serialize, which prints doubles as 3.1E2.
  std::printf(
      "{\"writers\":%d,\"settlements\":%llu,\"seconds\":%.3f,\"per_sec\":%.1f,"
      "\"value_bytes\":%lld,\"batch_bytes\":%lld}\n",
      args.writers, static_cast<unsigned long long>(settlements), seconds, settlements / seconds,
      std::llround(entry_value), std::llround(entry_total + index_total));
  return 0;
}

int AckLog(const Args& args) {
  auto center = OpenCenter(args.dir);
  Run run;
  std::vector<std::thread> threads;
  for (int i = 0; i < args.writers; ++i) {
    threads.emplace_back([&, i] { Writer(*center->ledger, center->clock, args, i, run); });
  }
  for (auto& t : threads) t.join();  // only on a failure: otherwise killed
  return 1;
}

int Check(const Args& args) {
  std::ifstream in(args.check, std::ios::binary);
  if (!in) Fail("ack file", core::Status(core::Code::kNotFound, args.check));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto center = OpenCenter(args.dir);
  uint64_t acked = 0, lost = 0;
  for (size_t at = 0; at < text.size();) {
    const size_t end = text.find('\n', at);
    if (end == std::string::npos) break;  // unterminated: never a whole acknowledgement
    const std::string id = text.substr(at, end - at);
    at = end + 1;
    if (id.empty()) continue;
    ++acked;
    auto got = center->ledger->Get(id);
    if (!got.ok()) Fail("get " + id, got.status());
    if (!got->has_value()) {
      ++lost;
      if (lost <= 10) std::fprintf(stderr, "settlement_bench: lost %s\n", id.c_str());
    }
  }
  auto chains = center->ledger->Verify(nullptr);
  if (!chains.ok()) Fail("verify", chains.status());
  uint64_t broken = 0;
  for (const auto& c : *chains) {
    if (!c.first_break) continue;
    ++broken;
    std::fprintf(stderr, "settlement_bench: chain %s/%s broken at %llu: %s\n", c.payee.c_str(),
                 c.payer.c_str(), static_cast<unsigned long long>(c.first_break->seq),
                 c.first_break->problem.c_str());
  }
  json::object out{
      {"acked", acked}, {"lost", lost}, {"chains", chains->size()}, {"broken", broken}};
  std::printf("%s\n", json::serialize(out).c_str());
  return lost == 0 && broken == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  if (!args.check.empty()) return Check(args);
  if (args.ack_log) return AckLog(args);
  return Timed(args);
}
