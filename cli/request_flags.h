// The flags shared by `edwc quote` and `edwc job submit`, parsed into the JSON body of
// POST /v1/quotes and POST /v1/jobs (docs/cli.md lists them). Pure functions: no I/O, the
// clock is a parameter, so tests cover every rule. Money is parsed from its decimal text
// into fen exactly; no floating point ever holds it. Thread-safe.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "cli/args.h"
#include "core/money.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::cli {

// "90m", "2h", "1h30m", "1d" -> minutes (> 0). A bare number is refused: minutes or hours?
core::Result<int64_t> ParseDurationMinutes(std::string_view text);

// "500ms", "2s", "1m" or a bare number of milliseconds -> milliseconds (>= 50).
core::Result<int64_t> ParseIntervalMillis(std::string_view text);

// "100GB", "1.5TB", "512MiB", "42" (bytes) -> bytes. Decimal units are powers of 1000
// (KB MB GB TB PB), binary ones powers of 1024 (KiB MiB GiB TiB PiB); units are
// case-insensitive. A fraction must come out as whole bytes.
core::Result<int64_t> ParseSizeBytes(std::string_view text);

// "500", "500.5", "500.00" CNY -> Money (fen), not negative.
core::Result<core::Money> ParsePriceCap(std::string_view text);

// "cost" | "time" | "green" -> that string; "cost=1,time=2,green=1" -> an object with all
// three weights (absent ones 0), non-negative, at least one positive.
core::Result<boost::json::value> ParseObjective(std::string_view text);

// An RFC 3339 time, "now", or "+DURATION" after `now` ("+6h") -> RFC 3339 in UTC.
core::Result<std::string> ParseTimeFlag(std::string_view text, core::Time now);

// The --help text for the request flags.
std::string RequestFlagsHelp();

// The valued options of the request flags (add ConnectionOptions() and the verb's own).
std::set<std::string> RequestOptions();
// The valued options `job submit` adds: name, env, idempotency-key.
std::set<std::string> SubmitOptions();

// The POST /v1/quotes body from the request flags. kInvalidArgument names the flag.
core::Result<boost::json::object> BuildQuoteRequest(const Args& args, core::Time now);

// The POST /v1/jobs body: the quote fields plus "command" (args.trailing(), required),
// "env" from --env K=V and "name".
core::Result<boost::json::object> BuildJobRequest(const Args& args, core::Time now);

// 128 random bits as 32 lowercase hex digits.
std::string NewIdempotencyKey();

}  // namespace edwc::cli
