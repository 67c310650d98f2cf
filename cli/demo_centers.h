// The illustrative centers `edwc demo` federates: real hub cities of the national
// East-Data-West-Computing layout, with plausible (not real) inventories and prices.
// Western hubs have cheaper power and so lower prices; night (22:00-06:00 China time)
// is cheaper than day everywhere. Immutable; thread-safe.
#pragma once

#include <cstdint>
#include <span>

namespace edwc::cli {

struct DemoModel {
  const char* model;  // catalog id
  int32_t count;
  int64_t day_fen;    // per device-hour
  int64_t night_fen;  // 22:00-06:00
};

struct DemoCenter {
  const char* id;
  const char* name;
  const char* hub;
  const char* city;
  const char* zone;
  double lat;
  double lon;
  int64_t egress_per_gb_fen;
  int32_t green_share_permille;  // illustrative: western hubs run on more wind, solar, hydro
  int32_t pue_milli;             // illustrative: cooler, drier sites cool for less
  std::span<const DemoModel> models;
};

// In demo order: the first four span west, east, south-west and south.
std::span<const DemoCenter> DemoCenters();

}  // namespace edwc::cli
