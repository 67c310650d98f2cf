// Human renderings of the finance API's answers for `edwc ledger`, `edwc reconcile` and
// `edwc netting` (docs/cli.md, "Settlements and finance"), and the small pure checks the
// verbs make on their arguments. Like cli/job_format.h the reading is defensive: a missing
// or mistyped field shows as "-" rather than failing. Money shows the server's decimal CNY
// string (X_cny) or its integer fen (X_fen) as yuan; no double ever holds money.
// Pure; thread-safe.
#pragma once

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edwc::cli {

// ---- Arguments and requests ------------------------------------------------------------

// A period bound as the API takes it: RFC 3339 or a China date "YYYY-MM-DD".
bool IsPeriodBound(std::string_view text);

// A settlement id: "compute/<hold id>" or "egress/<transfer id>/<sender>", i.e. 1..300
// characters of [A-Za-z0-9._-] in non-empty pieces separated by '/'.
bool IsSettlementId(std::string_view id);

// GET target of one settlement. The id's '/' are percent-encoded so that it stays the one
// path segment of /v1/settlements/{id}.
std::string SettlementTarget(std::string_view id);

// `path` with "?k=v&..." for the pairs whose value is not empty, values percent-encoded.
std::string WithQuery(std::string path,
                      const std::vector<std::pair<std::string, std::string>>& params);

// Adds the period's "from" and "to" (those given) to `params`. An error message naming
// the option (--from, --to) when one is not a period bound; nothing added then.
std::optional<std::string> AddPeriodParams(
    const std::optional<std::string>& from, const std::optional<std::string>& to,
    std::vector<std::pair<std::string, std::string>>* params);

// CSV text without its first (header) line, for pages after the first of `--all --csv`.
std::string_view CsvWithoutHeader(std::string_view csv);

// ---- Settlements -----------------------------------------------------------------------

// What a settlement view measures: "8 x h20, 0.50 h" for compute (devices, model, wall
// hours = accelerator_seconds / devices), "1.07 GB" for egress (decimal units); "-" when
// the view lacks the fields.
std::string QuantityText(const boost::json::value& view);

// `edwc ledger list`: DAY ID DIRECTION COUNTERPARTY KIND QUANTITY AMOUNT (CNY) STATE for
// {"settlements": [view...]}.
std::string RenderSettlementList(const boost::json::value& response);

// `edwc ledger show`: key: value lines for {"settlement": view, "record": stored}, with
// the presence of both signatures and, when disputed, the dispute.
std::string RenderSettlement(const boost::json::value& response);

// `edwc ledger balances`: COUNTERPARTY RECEIVABLE PAYABLE NET DISPUTED PENDING and TOTAL.
std::string RenderBalances(const boost::json::value& response);

// `edwc ledger verify`: one line per chain, then a summary line.
std::string RenderVerify(const boost::json::value& response);
// True when the answer says every chain holds (top-level "ok" and each chain's).
bool LedgerVerified(const boost::json::value& response);

// ---- Reconciliation and netting --------------------------------------------------------

// `edwc reconcile`: the days whose digests differ, each discrepancy, the summary.
std::string RenderReconcile(const boost::json::value& response);
// True when the answer says the two ledgers match.
bool Reconciled(const boost::json::value& response);

// `edwc netting`: CENTER POSITION (CNY) REPORTED, the payments, disagreements,
// unreachable centers and the sum of the positions.
std::string RenderNetting(const boost::json::value& response);

}  // namespace edwc::cli
