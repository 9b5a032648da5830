// Map-file rules as PXE sites write them for tftpd-hpa.
#include "server/files/remap_rules.h"

#include "gtest/gtest.h"

namespace tftpd {
namespace {

const io::SocketAddress kClient = *io::SocketAddress::Parse("192.168.1.10", 68);

std::string Map(const std::string& rules, const std::string& path,
                bool write = false, const io::SocketAddress& client = kClient) {
  auto parsed = RemapRules::Parse(rules);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return "<bad rules>";
  RemapRules::Result r = (*parsed)->Apply(path, write, client);
  return r.refused ? "refused: " + r.message : r.path;
}

TEST(RemapRules, WindowsStyleNamesBecomePaths) {
  const std::string rules =
      "# Windows clients (WDS, old PXE ROMs)\n"
      "rg \\\\ /        # backslashes to slashes\n"
      "ri ^[a-z]:       # strip a drive letter\n"
      "r ^/+            # and leading slashes\n";
  EXPECT_EQ(Map(rules, "C:\\Boot\\x64\\wdsnbp.com"), "Boot/x64/wdsnbp.com");
  EXPECT_EQ(Map(rules, "d:/pxe/boot.cfg"), "pxe/boot.cfg");
  EXPECT_EQ(Map(rules, "pxelinux.0"), "pxelinux.0");
}

TEST(RemapRules, PerClientDirectoriesBySubstitution) {
  EXPECT_EQ(Map("r ^ \\i/", "pxelinux.cfg/default"),
            "192.168.1.10/pxelinux.cfg/default");
  EXPECT_EQ(Map("r ^ \\x/", "grub.cfg"), "C0A8010A/grub.cfg");
  const io::SocketAddress mapped =
      *io::SocketAddress::Parse("::ffff:10.0.0.1", 68);
  EXPECT_EQ(Map("r ^ \\i/", "f", false, mapped), "10.0.0.1/f");
}

TEST(RemapRules, GroupsCaseAndEscapes) {
  EXPECT_EQ(Map("r ^pxelinux\\.cfg/01-(.*)$ hosts/\\U\\1\\E.cfg",
                "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff"),
            "hosts/AA-BB-CC-DD-EE-FF.cfg");
  EXPECT_EQ(Map("r ^(a)(b)$ \\2\\1\\0", "ab"), "baab");
  EXPECT_EQ(Map("r x a\\ b\\#c", "x"), "a b#c");
}

TEST(RemapRules, EndRestartAndOrder) {
  // e stops after a match; later rules do not run.
  EXPECT_EQ(Map("re ^a b\nr b c", "a"), "b");
  EXPECT_EQ(Map("r ^a b\nr b c", "a"), "c");
  // s starts over: the first rule sees the rewritten name.
  EXPECT_EQ(Map("r ^x y\nrs ^q x", "q"), "y");
}

TEST(RemapRules, AbortRefusesWithItsMessage) {
  EXPECT_EQ(Map("a \\.\\.", "../etc/passwd"), "refused: access denied");
  EXPECT_EQ(Map("a ^secret/ no\\ secrets\\ here", "secret/key"),
            "refused: no secrets here");
  EXPECT_EQ(Map("a ^secret/", "public/key"), "public/key");
  // ~ inverts: refuse whatever is not under boot/.
  EXPECT_EQ(Map("a~ ^boot/", "etc/x"), "refused: access denied");
  EXPECT_EQ(Map("a~ ^boot/", "boot/x"), "boot/x");
}

TEST(RemapRules, RequestTypeAndFamilyFilters) {
  const std::string rules = "rG ^ get/\nrP ^ put/\n";
  EXPECT_EQ(Map(rules, "f", false), "get/f");
  EXPECT_EQ(Map(rules, "f", true), "put/f");
  const io::SocketAddress v6 = *io::SocketAddress::Parse("2001:db8::1", 68);
  EXPECT_EQ(Map("r4 ^ v4/\nr6 ^ v6/", "f"), "v4/f");
  EXPECT_EQ(Map("r4 ^ v4/\nr6 ^ v6/", "f", false, v6), "v6/f");
}

TEST(RemapRules, RunawayRulesRefuseInsteadOfSpinning) {
  // Growing by a byte a round: stopped by the length bound.
  EXPECT_EQ(Map("rg a aa", "a"), "refused: remapped name too long");
  EXPECT_EQ(Map("rg a b", std::string(300, 'a')), std::string(300, 'b'));
  EXPECT_EQ(Map("rs a a", "a"), "refused: remap rules did not terminate");
}

TEST(RemapRules, BadLinesAreNamed) {
  auto unknown = RemapRules::Parse("r a b\nq a b\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("line 2"), std::string::npos)
      << unknown.status();
  EXPECT_FALSE(RemapRules::Parse("r (unclosed x").ok());
  EXPECT_FALSE(RemapRules::Parse("r\n").ok());  // No regex.
  EXPECT_FALSE(RemapRules::Parse("r~ a b\n").ok());
  // Stacked repetition would make glibc's regcomp take all memory.
  EXPECT_FALSE(RemapRules::Parse("r (.+++++++++++++++++++++++++*) x\n").ok());
  EXPECT_FALSE(RemapRules::Parse("r a*{2} x\n").ok());
  EXPECT_TRUE(RemapRules::Parse("r [+*]+ x\nr \\++ y\nr (a+)+ z\n").ok());
  auto empty = RemapRules::Parse("# only comments\n\n   \n");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ((*empty)->size(), 0u);
}

}  // namespace
}  // namespace tftpd
