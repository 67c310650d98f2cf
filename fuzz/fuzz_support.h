// Shared by the fuzz targets and fuzz_make_seeds: the fixed world they run in (a test CA,
// one payee center "wuhu" with its certificate and key, the payer "beijing" and its own
// records of a job and a transfer), a fixed clock, and a check that aborts loudly.
//
// Everything is fixed so that a crashing input replays the same way on every machine and
// at any date: fuzz/testdata's certificates are valid from 2026-11 to 2036-11 and kNow
// lies inside that window.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "core/money.h"
#include "core/time.h"
#include "federation/holds.h"
#include "federation/job_router.h"
#include "federation/settlement.h"
#include "federation/transfer.h"
#include "pricing/price.h"

namespace edwc::fuzz {

// 2027-01-15T08:00:00Z, the time the settlement tests use.
inline const core::Time kT0 = core::Time(core::Duration(1'800'000'000'000));
// "Now" for every check that reads a clock: two hours after the job below began.
inline const core::Time kNow = kT0 + std::chrono::hours(2);

inline constexpr std::string_view kPayer = "beijing";
inline constexpr std::string_view kPayee = "wuhu";

// An invariant of the code under test failed: report it as a crash libFuzzer keeps.
#define EDWC_FUZZ_CHECK(cond)                                                                 \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: EDWC_FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

// fuzz/testdata/<name>; aborts when missing (a broken checkout, not an input's fault).
inline std::string ReadTestdata(std::string_view name) {
  const std::string path = std::string(EDWC_FUZZ_TESTDATA) + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}
inline std::string TestdataPath(std::string_view name) {
  return std::string(EDWC_FUZZ_TESTDATA) + "/" + std::string(name);
}

// H800 at 10 CNY per device-hour, half price 00:00-08:00 China time, surge 1.1.
inline federation::FirmTerms Firm() {
  federation::FirmTerms f;
  f.schedule.base_per_device_hour = core::Money::Fen(1000);
  f.schedule.windows.push_back(core::TimeOfUseWindow{0, 480, core::Money::Fen(500)});
  f.surge_permille = 1100;
  return f;
}

// wuhu's record of the hold beijing placed there, after the job ran for 90 minutes.
inline federation::HoldRecord PayeeHold() {
  federation::HoldRecord h;
  h.hold_id = "beijing.j1.1";
  h.job_id = "j1";
  h.router = std::string(kPayer);
  h.terms.model = "h800";
  h.terms.count = 2;
  h.terms.duration = std::chrono::hours(2);
  h.state = federation::HoldState::kSucceeded;
  h.firm = Firm();
  federation::HoldUsage u;
  u.started = kT0;
  u.ended = kT0 + std::chrono::minutes(90);
  u.accelerator_ms = 2 * 90 * 60'000;
  u.cost = *pricing::ComputeCost(h.firm.schedule, 2, u.started, u.ended, h.firm.surge_permille);
  h.usage = u;
  return h;
}

// beijing's own record of that job: what the payer checks a compute offer against.
inline federation::JobRecord PayerJob() {
  federation::JobRecord j;
  j.job_id = "j1";
  federation::Candidate shanghai{"shanghai", "https://sh", "h800", 2, {}, {}, {}, ""};
  federation::Candidate wuhu{"wuhu", "https://wh", "h800", 2, {}, {}, {}, ""};
  j.candidates = {shanghai, wuhu};
  j.attempts = {federation::Attempt{"shanghai", "beijing.j1.0", "too_few_free", kT0},
                federation::Attempt{"wuhu", "beijing.j1.1", "committed", kT0}};
  j.ran_on = "wuhu";
  j.terms = Firm();
  return j;
}

// The 2.5 GB wuhu sent beijing: what wuhu claims and what beijing planned to pay.
inline federation::EgressClaim PayeeClaim() {
  return federation::EgressClaim{
      "t1", "wuhu", "beijing", "imagenet", 2'500'000'000, kT0, kT0 + std::chrono::minutes(3)};
}
inline federation::TransferRecord PayerTransfer() {
  federation::TransferRecord t;
  t.id = "t1";
  t.manifest.size = 2'500'000'000;
  federation::TransferLeg leg;
  leg.from = "wuhu";
  leg.to = "beijing";
  leg.egress = core::Money::Fen(200);
  t.plan.legs = {leg};
  t.plan.egress = leg.egress;
  return t;
}

}  // namespace edwc::fuzz
