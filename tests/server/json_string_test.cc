// Text a client chose, as JSON: UTF-8 kept, everything else visible, and
// nothing PostgreSQL's jsonb refuses.
#include "server/observability/json_string.h"

#include <string>

#include "gtest/gtest.h"

namespace tftpd {
namespace {

TEST(JsonString, QuotesAndControlsAreEscaped) {
  EXPECT_EQ(JsonString("boot/a\"b\\c"), R"("boot/a\"b\\c")");
  EXPECT_EQ(JsonString("x\ny\x01\x7f"), "\"x\\u000ay\\u0001\x7f\"");
}

// Before, each byte from 0x7f up became \u00XX: "é" (C3 A9) showed as
// "Ã©" in /transfers and in the PostgreSQL sink's rows.
TEST(JsonString, WellFormedUtf8PassesThrough) {
  EXPECT_EQ(JsonString("caf\xc3\xa9.cfg"), "\"caf\xc3\xa9.cfg\"");
  EXPECT_EQ(JsonString("\xe2\x82\xac \xf0\x9f\x96\xa5 \xf4\x8f\xbf\xbf"),
            "\"\xe2\x82\xac \xf0\x9f\x96\xa5 \xf4\x8f\xbf\xbf\"");
}

// Anything else shows as the visible text \xNN, as in the log.
TEST(JsonString, InvalidBytesAreVisible) {
  EXPECT_EQ(JsonString("\xff"), R"("\\xff")");
  EXPECT_EQ(JsonString("a\xc3"), R"("a\\xc3")");                  // Cut short.
  EXPECT_EQ(JsonString("\xc0\x80"), R"("\\xc0\\x80")");           // Overlong.
  EXPECT_EQ(JsonString("\xe0\x80\xaf"), R"("\\xe0\\x80\\xaf")");  // Overlong.
  EXPECT_EQ(JsonString("\xed\xa0\x80"), R"("\\xed\\xa0\\x80")");  // Surrogate.
  EXPECT_EQ(JsonString("\xf4\x90\x80\x80"),
            R"("\\xf4\\x90\\x80\\x80")");  // Past U+10FFFF.
  EXPECT_EQ(JsonString("\x80\xc3\xa9"), "\"\\\\x80\xc3\xa9\"");
}

// jsonb refuses \u0000 (and so a row holding it): NUL is visible text.
TEST(JsonString, NulIsVisibleText) {
  EXPECT_EQ(JsonString(std::string("a\0b", 3)), R"("a\\x00b")");
}

}  // namespace
}  // namespace tftpd
