// The one YAML document of a configuration file's text (the center config, the CLI's
// config), read without yaml-cpp 0.7's LoadAll: on a document it cannot start (a stray ','
// at the top: jbeder/yaml-cpp#1040, fixed upstream after 0.7; found by
// fuzz/center_config_fuzz.cc) LoadAll loops forever, allocating without bound, because the
// parser returns a new empty document at the same place on every call.
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

namespace edwc::config {

struct YamlDocument {
  std::optional<YAML::Node> root;  // unset when the text holds no document (empty)
  // Set when the text is not one document: a syntax error (yaml-cpp's message), a second
  // document ("only one YAML document is allowed") or one that cannot start ("not valid
  // YAML here"); `mark` is where.
  std::optional<std::string> problem;
  YAML::Mark mark = YAML::Mark::null_mark();
};

// Counts the documents with a bounded number of parser calls, then builds the only one
// with YAML::Load (which parses one document only). Never throws.
YamlDocument ParseOneYamlDocument(const std::string& text);

}  // namespace edwc::config
