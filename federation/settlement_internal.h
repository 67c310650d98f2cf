// Helpers shared by settlement.cc and settlement_finance.cc; only settlement*.cc include this.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/money.h"
#include "federation/settlement.h"

namespace edwc::federation::settlement_internal {

// value / 10^digits with exactly `digits` decimals: (3600000, 3) is "3600.000".
std::string Fixed(int64_t value, int digits);

// The other party of `b`, seen from `self`.
std::string Counterparty(const SettlementBody& b, std::string_view self);

// "receivable" when `self` is the payee, else "payable".
std::string_view Direction(const SettlementBody& b, std::string_view self);

bool FitsInt64(core::Int128 v);

}  // namespace edwc::federation::settlement_internal
