#include "cli/args.h"

#include <charconv>

namespace edwc::cli {

Args::Args(std::string command, std::set<std::string> valued, std::set<std::string> flags)
    : command_(std::move(command)), valued_(std::move(valued)), flags_(std::move(flags)) {}

core::Status Args::Parse(int argc, char** argv, int begin) {
  for (int i = begin; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--" && allow_trailing_) {
      saw_double_dash_ = true;
      trailing_.assign(argv + i + 1, argv + argc);
      break;
    }
    if (arg.rfind("--", 0) != 0 && positional_.size() < max_positional_) {
      positional_.push_back(std::move(arg));
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return core::InvalidArgument("unexpected argument '" + arg + "' for `" + command_ +
                                   "` (see `" + command_ + " --help`)");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (flags_.count(name)) {
      if (value) return core::InvalidArgument("--" + name + " takes no value", name);
      values_[name].push_back("true");
    } else if (valued_.count(name)) {
      if (!value) {
        if (i + 1 >= argc) return core::InvalidArgument("--" + name + " needs a value", name);
        value = argv[++i];
      }
      values_[name].push_back(*value);
    } else {
      return core::InvalidArgument(
          "unknown option --" + name + " for `" + command_ + "` (see `" + command_ + " --help`)",
          name);
    }
  }
  return core::Status::Ok();
}

bool Args::Has(const std::string& name) const { return values_.count(name) > 0; }

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::GetAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

core::Result<long> Args::GetInt(const std::string& name, long fallback, long min, long max) const {
  auto v = Get(name);
  if (!v) return fallback;
  long out = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || end != v->data() + v->size() || out < min || out > max) {
    return core::InvalidArgument("--" + name + " must be an integer from " + std::to_string(min) +
                                     " to " + std::to_string(max) + ", got '" + *v + "'",
                                 name);
  }
  return out;
}

core::Result<std::string> Args::Require(const std::string& name) const {
  auto v = Get(name);
  if (!v || v->empty()) return core::InvalidArgument("--" + name + " is required", name);
  return *v;
}

}  // namespace edwc::cli
