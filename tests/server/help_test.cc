// Every flag tftpd defines has a place in the grouped help (help.h): a flag
// added without one would land among "the program's own flags".
#include "server/daemon/help.h"

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace tftpd {
namespace {

TEST(Help, EveryTftpdFlagHasAGroup) {
  EXPECT_TRUE(UngroupedTftpdFlags().empty())
      << "add to Plan() in server/daemon/help.cc: "
      << absl::StrJoin(UngroupedTftpdFlags(), ", ");
}

TEST(Help, TftpdAloneHasNoOwnGroup) {
  // Only tftpd's flags are linked here: six groups, none for the program.
  const std::vector<FlagGroup> groups = GroupFlags("help_test");
  ASSERT_EQ(groups.size(), 6u);
  EXPECT_EQ(groups.front().title, "Serving");
  for (const FlagGroup& group : groups) EXPECT_FALSE(group.flags.empty());
}

}  // namespace
}  // namespace tftpd
