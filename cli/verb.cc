#include "cli/verb.h"

#include <cctype>
#include <cstdio>

namespace edwc::cli {

int Verb::Usage(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n", name.c_str(), message.c_str());
  return kExitUsage;
}

int Verb::Fail(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n", name.c_str(), message.c_str());
  return kExitFailure;
}

int Verb::FailHttp(const gateway::HttpResponse& r, const std::string& what) const {
  if (r.status == 404 && !what.empty()) {
    std::fprintf(stderr, "%s: no %s (404)\n", name.c_str(), what.c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), ApiErrorLine(r.status, r.body).c_str());
  }
  return ExitCodeForHttpStatus(r.status);
}

bool IsPlainId(std::string_view id, size_t max_length) {
  if (id.empty() || id.size() > max_length) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

int UnknownSubcommand(std::string_view verb, const std::string& sub, const char* usage) {
  const std::string v(verb);
  if (sub.empty()) {
    std::fprintf(stderr, "%s: which one?\n%s", v.c_str(), usage);
  } else {
    std::fprintf(stderr, "%s: unknown subcommand '%s'\n%s", v.c_str(), sub.c_str(), usage);
  }
  return kExitUsage;
}

}  // namespace edwc::cli
