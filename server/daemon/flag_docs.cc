// Writes tftpd's flags, grouped as `tftpd --help` shows them:
//   flag_docs --man        tftpd(8) in roff (the Debian package's man page)
//   flag_docs --markdown   the flag table of docs/operating.md
#include <cstdio>
#include <cstring>
#include <string>

#include "server/daemon/help.h"

int main(int argc, char** argv) {
  std::string out;
  if (argc == 2 && std::strcmp(argv[1], "--man") == 0) {
    out = tftpd::ManPage();
  } else if (argc == 2 && std::strcmp(argv[1], "--markdown") == 0) {
    out = tftpd::MarkdownFlagTable();
  } else {
    std::fprintf(stderr, "usage: flag_docs --man | --markdown\n");
    return 2;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
