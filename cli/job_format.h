// Human renderings of the broker API's answers for `edwc quote` and `edwc job`: tables and
// blocks built from the JSON as the server sent it. The reading is defensive: a field that
// is missing, null or of an unexpected type shows as "-" rather than failing, so that a
// newer or older server still prints something useful. Money shows the server's decimal
// CNY string (X_cny) or, failing that, formats its integer fen (X_fen). Pure; thread-safe.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace edwc::cli {

// o[key] as text: strings as they are, numbers and booleans printed, anything else "-".
std::string FieldText(const boost::json::value& o, std::string_view key);
// Member `key` of object `o`, or null; the array at `key`, or an empty one.
const boost::json::value* Member(const boost::json::value& o, std::string_view key);
const boost::json::array& ArrayAt(const boost::json::value& o, std::string_view key);
// Money `base` of o: o[base + "_cny"], else o[base + "_fen"] as yuan, else "-".
std::string MoneyText(const boost::json::value& o, std::string_view base);
// "2026-11-27T01:17:00Z" -> "11-27 01:17Z" (UTC); unparseable text as it is; "" -> "-".
std::string CompactTime(std::string_view rfc3339);

// A plain-text table: columns as wide as their widest cell (in UTF-8 code points), two
// spaces apart; `right` marks right-aligned columns. No trailing spaces.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& right = {});

// `edwc quote`: the ranked table, then "Excluded:" and one "  center: reason (detail)" line
// per excluded center.
std::string RenderQuotes(const boost::json::value& response);

// `edwc job submit`: "job ID placed on CENTER (state)" and the attempts; `replayed` when
// the server answered an earlier submission with the same idempotency key.
std::string RenderSubmitted(const boost::json::value& job, bool replayed);

// `edwc job list`: ID NAME STATE CENTER MODEL×COUNT COST CREATED.
std::string RenderJobList(const boost::json::value& response);

// `edwc job show`: the whole job as a readable block (request, attempts, history, usage).
std::string RenderJob(const boost::json::value& job);

// `edwc job cancel`: one line, "cancelled" or "cancel requested" as the server says.
std::string RenderCancelled(const boost::json::value& job);

// `edwc job watch`: lines for history entries from index *printed on, advancing *printed.
// A server that sends no history gets one line per change of "state" instead, stamped
// with updated_at (*last_state remembers the last state printed).
std::vector<std::string> WatchLines(const boost::json::value& job, size_t* printed,
                                    std::string* last_state);

bool IsTerminalState(std::string_view state);

}  // namespace edwc::cli
