// A small command-line parser for edwc's subcommands: `--name value`, `--name=value`,
// boolean `--name`, repeatable options. Anything not declared is refused with a message
// that names it, so a typo never silently changes what a command does. A command may opt
// in to positional arguments (`edwc job show ID`) and to a trailing `-- argv...` that is
// kept verbatim (`edwc job submit ... -- python train.py --lr 3e-4`).
// Not thread-safe; used once per process.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace edwc::cli {

class Args {
 public:
  // `command` names the subcommand in error messages ("edwc demo").
  Args(std::string command, std::set<std::string> valued, std::set<std::string> flags);

  // Accept up to `max` arguments that do not start with "--" (see positional()).
  void AllowPositional(size_t max) { max_positional_ = max; }
  // Accept "--": everything after it is kept as is (see trailing()).
  void AllowTrailing() { allow_trailing_ = true; }

  // Parses argv[begin..argc). kInvalidArgument names the first unusable argument.
  core::Status Parse(int argc, char** argv, int begin);

  bool Has(const std::string& name) const;
  std::optional<std::string> Get(const std::string& name) const;  // last occurrence
  std::vector<std::string> GetAll(const std::string& name) const;
  // Integer in [min, max]; `fallback` when absent.
  core::Result<long> GetInt(const std::string& name, long fallback, long min, long max) const;
  // Required valued option.
  core::Result<std::string> Require(const std::string& name) const;

  const std::vector<std::string>& positional() const { return positional_; }
  // The arguments after "--"; empty when there was none.
  const std::vector<std::string>& trailing() const { return trailing_; }
  bool has_trailing() const { return saw_double_dash_; }
  bool allows_trailing() const { return allow_trailing_; }

 private:
  std::string command_;
  std::set<std::string> valued_;
  std::set<std::string> flags_;
  std::map<std::string, std::vector<std::string>> values_;
  size_t max_positional_ = 0;
  bool allow_trailing_ = false;
  bool saw_double_dash_ = false;
  std::vector<std::string> positional_;
  std::vector<std::string> trailing_;
};

}  // namespace edwc::cli
