// The YAML center configuration (config/load.h): any text must give a config or a list of
// errors, never a crash. What loads must also render and load back equal
// (RenderCenterConfig's promise, which `edwc demo` relies on).
//
// Relative paths resolve against a directory that does not exist, so an input cannot make
// the loader read the fuzzing machine's files by accident (absolute paths still can).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/load.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edwc::config::ParseCenterConfig;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<edwc::config::ConfigError> errors;
  auto config = ParseCenterConfig(text, "fuzz.yaml", "/nonexistent-edwc-fuzz", &errors);
  if (!config.ok()) {
    EDWC_FUZZ_CHECK(!errors.empty());
    for (const auto& e : errors) (void)e.ToString();
    return 0;
  }
  const std::string rendered = edwc::config::RenderCenterConfig(*config);
  auto again = ParseCenterConfig(rendered, "fuzz.yaml", "/nonexistent-edwc-fuzz");
  if (!again.ok()) {
    std::fprintf(stderr, "%s\n%s\n", rendered.c_str(), again.status().ToString().c_str());
  }
  EDWC_FUZZ_CHECK(again.ok());
  again->source_file = config->source_file;
  EDWC_FUZZ_CHECK(*again == *config);
  return 0;
}
