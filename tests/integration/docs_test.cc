// The operator's flag table (docs/operating.md) against what the binary
// says: every flag in the table exists, and every tftpd flag is in the
// table.
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

// Names of the flags `--help` lists under tftpd's own source file.
std::set<std::string> HelpFlags() {
  const CommandResult help = RunCommand({"server/tftpd", "--help"});
  std::set<std::string> flags;
  bool ours = false;
  for (absl::string_view line : absl::StrSplit(help.output, '\n')) {
    if (absl::StartsWith(line, "  Flags from ")) {
      ours = absl::StrContains(line, "server/daemon/");
      continue;
    }
    if (ours && absl::StartsWith(line, "    -")) {
      absl::string_view name = line.substr(5);
      name = name.substr(0, name.find(' '));
      flags.emplace(name);
    }
  }
  return flags;
}

// Names in the first column of the table that follows "| flag | default |".
std::set<std::string> TableFlags(const std::string& doc) {
  std::set<std::string> flags;
  bool in_table = false;
  for (absl::string_view line : absl::StrSplit(doc, '\n')) {
    if (absl::StartsWith(line, "| flag | default |")) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (!absl::StartsWith(line, "|")) break;
    const std::vector<absl::string_view> cells = absl::StrSplit(line, '|');
    if (cells.size() < 2) continue;
    // Flags are quoted: every other piece between backquotes.
    const std::vector<absl::string_view> pieces = absl::StrSplit(cells[1], '`');
    for (size_t i = 1; i < pieces.size(); i += 2) {
      absl::string_view piece = pieces[i];
      if (absl::ConsumePrefix(&piece, "--")) flags.emplace(piece);
    }
  }
  return flags;
}

TEST(Docs, TheFlagTableMatchesHelp) {
  const std::set<std::string> help = HelpFlags();
  ASSERT_GT(help.size(), 20u) << "no flags found in --help";
  const std::string doc = ReadFile("docs/operating.md");
  const std::set<std::string> table = TableFlags(doc);
  std::set<std::string> undocumented;
  std::set<std::string> unknown;
  for (const std::string& flag : help) {
    if (!table.contains(flag)) undocumented.insert(flag);
  }
  for (const std::string& flag : table) {
    if (!help.contains(flag)) unknown.insert(flag);
  }
  EXPECT_TRUE(undocumented.empty())
      << "in --help, not in docs/operating.md's table: "
      << absl::StrJoin(undocumented, ", ");
  EXPECT_TRUE(unknown.empty())
      << "in docs/operating.md's table, not in --help: "
      << absl::StrJoin(unknown, ", ");
}

}  // namespace
}  // namespace tftpd::testing
