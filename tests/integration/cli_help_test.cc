// The edwc binary's --help for every verb and subcommand that `edwc help` lists: each
// exits 0 and shows an example (issue 7). And the CLI config file's errors as a user sees
// them: one line on stderr, exit 2.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/workload.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

std::vector<std::string> Split(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  size_t begin = 0;
  for (size_t at; (at = text.find(sep, begin)) != std::string::npos; begin = at + sep.size()) {
    out.push_back(text.substr(begin, at - begin));
  }
  out.push_back(text.substr(begin));
  return out;
}

bool IsSubcommandWord(const std::string& word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || c == '-';
  }) && word[0] != '-';
}

// Every "edwc VERB [SUB]" of the usage: the lines "  edwc VERB SUB ... | SUB2 ... | ...".
std::vector<std::vector<std::string>> CommandsOfUsage(const std::string& usage) {
  std::vector<std::vector<std::string>> commands;
  std::istringstream lines(usage);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  edwc ", 0) != 0) continue;
    const std::vector<std::string> segments = Split(line.substr(7), " | ");
    std::istringstream first(segments[0]);
    std::string verb, sub;
    first >> verb >> sub;
    if (!IsSubcommandWord(sub)) {
      commands.push_back({verb});
      continue;
    }
    commands.push_back({verb, sub});
    for (size_t i = 1; i < segments.size(); ++i) {
      std::istringstream rest(segments[i]);
      std::string word;
      rest >> word;
      if (IsSubcommandWord(word)) commands.push_back({verb, word});
    }
  }
  std::sort(commands.begin(), commands.end());
  commands.erase(std::unique(commands.begin(), commands.end()), commands.end());
  return commands;
}

std::string Joined(const std::vector<std::string>& words) {
  std::string out = "edwc";
  for (const auto& w : words) out += " " + w;
  return out;
}

TEST(CliHelpTest, EveryVerbHasHelpWithAnExample) {
  testing::TempDir dir;
  std::string usage, err;
  ASSERT_EQ(testing::RunEdwc({"help"}, dir.Sub("help.log"), &usage, &err), 0) << err;
  const auto commands = CommandsOfUsage(usage);
  // The parse found the verbs and subcommands (a guard against a usage reformat).
  std::set<std::string> names;
  for (const auto& c : commands) names.insert(Joined(c));
  for (const char* want :
       {"edwc job submit", "edwc job output", "edwc dataset rm", "edwc transfer watch",
        "edwc ledger verify", "edwc ledger export", "edwc certs issue", "edwc reconcile",
        "edwc netting", "edwc centers", "edwc quote", "edwc demo", "edwc agent", "edwc version"}) {
    EXPECT_EQ(names.count(want), 1u) << want << " not found in the usage:\n" << usage;
  }
  EXPECT_GE(commands.size(), 30u);
  for (const auto& command : commands) {
    std::vector<std::string> args = command;
    args.push_back("--help");
    std::string out;
    const int code = testing::RunEdwc(args, dir.Sub("run.log"), &out, &err);
    EXPECT_EQ(code, 0) << Joined(args) << ": " << err;
    EXPECT_NE(out.find("Example"), std::string::npos) << Joined(args) << " prints:\n" << out;
  }
}

TEST(CliHelpTest, ConfigFileErrorsAreOneLine) {
  testing::TempDir dir;
  const std::string file = dir.Sub("cli.yaml");
  std::ofstream(file) << "url: https://127.0.0.1:1\ntokn: t\n";
  ::chmod(file.c_str(), 0600);
  std::string out, err;
  EXPECT_EQ(testing::RunEdwc({"job", "list", "--config-file", file}, dir.Sub("a.log"), &out, &err),
            2);
  EXPECT_EQ(err, "edwc job list: " + file +
                     ":2:1: tokn: unknown key (expected url, ca, token, tokens)\n");
  EXPECT_EQ(out, "");

  std::ofstream(file, std::ios::trunc) << "url: https://127.0.0.1:1\nca: ca.pem\ntoken: t\n";
  ::chmod(file.c_str(), 0644);
  EXPECT_EQ(testing::RunEdwc({"centers", "--config-file", file}, dir.Sub("b.log"), &out, &err), 2);
  EXPECT_EQ(err, "edwc centers: " + file + ": permissions 0644 are too open for a file holding " +
                     "tokens (chmod 600 " + file + ")\n");
}

}  // namespace
}  // namespace edwc
