// tftpd's flags as an operator reads them: grouped by purpose, each with its
// default. One source for `--help`, the tftpd(8) man page and the flag table
// in docs/operating.md (bazel run //server/daemon:flag_docs). gflags' own
// flags appear only under `--helpfull`.
#ifndef TFTPD_SERVER_DAEMON_HELP_H_
#define TFTPD_SERVER_DAEMON_HELP_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace tftpd {

struct DocumentedFlag {
  std::string name;
  std::string type;           // bool, int32, int64, double or string.
  std::string default_value;  // As gflags prints it.
  std::string description;
};

struct FlagGroup {
  std::string title;
  std::vector<DocumentedFlag> flags;
};

// tftpd's flags in their groups, then a group of the program's own flags
// (a program built on RunTftpd defines more), never gflags' own.
std::vector<FlagGroup> GroupFlags(absl::string_view program);

// The flags that GroupFlags leaves in the program's own group although
// they were defined with tftpd's (a flag added without a group).
std::vector<std::string> UngroupedTftpdFlags();

// `program --help`: the usage, then each group.
std::string HelpText(absl::string_view program, absl::string_view usage);
// tftpd(8) in roff (man(7) macros).
std::string ManPage();
// The flag table of docs/operating.md, in Markdown.
std::string MarkdownFlagTable();

// Handles `--help` as above, after the other flags are parsed; gflags
// still handles --helpfull, --helpxml and --version. Returns true when
// the program should exit (help was printed).
bool PrintHelpIfAsked(absl::string_view program, absl::string_view usage);

}  // namespace tftpd

#endif  // TFTPD_SERVER_DAEMON_HELP_H_
