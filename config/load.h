// Loading and validating a center's YAML configuration.
//
// Every problem is reported, not just the first, each as "file:line:column: key: what"
// where key is the dotted path ("pricing.models[1].per_device_hour"). Unknown keys,
// wrong types, missing required keys and bad values are all refused.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/center_config.h"
#include "core/status.h"

namespace edwc::config {

struct ConfigError {
  std::string file;
  int line = 0;     // 1-based; 0 when the problem is the file as a whole
  int column = 0;   // 1-based
  std::string key;  // dotted path, empty for the whole document
  std::string message;
  std::string ToString() const;  // "center.yaml:12:5: pricing.egress_per_gb: ..."
};

// On failure the Status is kInvalidArgument whose message is every error, one per line;
// `errors` (if given) receives them structured.
core::Result<CenterConfig> LoadCenterConfig(const std::string& path,
                                            std::vector<ConfigError>* errors = nullptr);

// Same, from text; `file` names it in errors and `base_dir` resolves relative paths.
core::Result<CenterConfig> ParseCenterConfig(std::string_view yaml_text, const std::string& file,
                                             const std::string& base_dir,
                                             std::vector<ConfigError>* errors = nullptr);

// The YAML text of `config` (what `edwc demo` writes); LoadCenterConfig reads it back
// equal. Paths are written as given.
std::string RenderCenterConfig(const CenterConfig& config);

}  // namespace edwc::config
