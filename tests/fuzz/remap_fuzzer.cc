// Fuzz target: remap rules applied to hostile names. The input is a rule set
// and a requested name, split at the first NUL; with no NUL, the whole input
// is a name for a fixed set of rules PXE sites use. Checks that every
// outcome is a name of bounded length or a refusal, and never a crash or a
// hang.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "server/files/remap_rules.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

const char kSiteRules[] =
    "rg \\\\ /\n"
    "ri ^[a-z]:\n"
    "r ^/+\n"
    "r ^pxelinux\\.cfg/01-(..)-(..)-(..)-(..)-(..)-(..)$ "
    "hosts/\\U\\1\\2\\3\\4\\5\\6\n"
    "rs ^boot/boot/ boot/\n"
    "a \\.\\.\n"
    "a~ ^[A-Za-z0-9./_-]+$\n"
    "r ^ \\i/\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  std::string rules_text = kSiteRules;
  std::string name = input;
  if (nul != std::string::npos) {
    // Rules come from the operator: short ones keep regcomp's own costs out.
    if (nul > 256) return 0;
    // Counted repetition compiles to a copy per count in glibc, so nested
    // counts ("((a{50}){50}){50}") take memory by design; rules are the
    // operator's, names are what is hostile.
    if (input.find('{') < nul) return 0;
    rules_text = input.substr(0, nul);
    name = input.substr(nul + 1);
  }
  if (name.size() > 512) return 0;  // Requests carry at most 503 bytes.
  auto rules = tftpd::RemapRules::Parse(rules_text);
  if (!rules.ok()) return 0;
  static const io::SocketAddress v4 =
      *io::SocketAddress::Parse("192.0.2.7", 68);
  static const io::SocketAddress v6 =
      *io::SocketAddress::Parse("2001:db8::7", 68);
  for (bool write : {false, true}) {
    for (const io::SocketAddress* client : {&v4, &v6}) {
      const tftpd::RemapRules::Result r = (*rules)->Apply(name, write, *client);
      if (r.refused) {
        Check(!r.message.empty());
      } else {
        Check(r.path.size() <= 1024);
      }
    }
  }
  return 0;
}
