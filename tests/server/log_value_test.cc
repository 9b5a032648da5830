// Log field values as logfmt writes them: a client's name cannot forge a
// field or a line.
#include "gtest/gtest.h"
#include "server/api/log.h"

namespace tftpd {
namespace {

TEST(LogValue, PlainValuesStayBare) {
  EXPECT_EQ(LogValue("pxelinux.cfg/01-52-54-00-12-34-56"),
            "pxelinux.cfg/01-52-54-00-12-34-56");
}

TEST(LogValue, AnythingElseIsQuotedAndEscaped) {
  EXPECT_EQ(LogValue(""), "\"\"");
  EXPECT_EQ(LogValue("a b"), "\"a b\"");
  EXPECT_EQ(LogValue("x outcome=completed"), "\"x outcome=completed\"");
  EXPECT_EQ(LogValue("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(LogValue("C:\\boot"), "\"C:\\\\boot\"");
  EXPECT_EQ(LogValue("a\nforged=1"), "\"a\\nforged=1\"");
  EXPECT_EQ(LogValue(std::string("nul\0tab\t\xff", 9)),
            "\"nul\\x00tab\\x09\\xff\"");
}

}  // namespace
}  // namespace tftpd
