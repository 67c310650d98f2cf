// A small command-line parser for edwc's subcommands: `--name value`, `--name=value`,
// boolean `--name`, repeatable options. Anything not declared is refused with a message
// that names it, so a typo never silently changes what a command does.
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

  // Parses argv[begin..argc). kInvalidArgument names the first unusable argument.
  core::Status Parse(int argc, char** argv, int begin);

  bool Has(const std::string& name) const;
  std::optional<std::string> Get(const std::string& name) const;  // last occurrence
  std::vector<std::string> GetAll(const std::string& name) const;
  // Integer in [min, max]; `fallback` when absent.
  core::Result<long> GetInt(const std::string& name, long fallback, long min, long max) const;
  // Required valued option.
  core::Result<std::string> Require(const std::string& name) const;

 private:
  std::string command_;
  std::set<std::string> valued_;
  std::set<std::string> flags_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace edwc::cli
