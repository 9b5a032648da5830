// Opening files beneath the served root: with openat2 and with the portable
// walk, a version the caller already holds is checked but not opened.
#include "server/files/root_directory.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace tftpd {
namespace {

class RootDirectoryTest
    : public ::testing::TestWithParam<RootDirectory::Resolver> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/root_directory_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    path_ = pattern;
    Write("boot.img", "kernel", 0644);
    Write("private.img", "secret", 0600);
    auto root = RootDirectory::Open(path_, GetParam());
    ASSERT_TRUE(root.ok()) << root.status();
    root_.emplace(std::move(*root));
  }
  void TearDown() override {
    unlink((path_ + "/boot.img").c_str());
    unlink((path_ + "/private.img").c_str());
    rmdir(path_.c_str());
  }
  void Write(const std::string& name, const std::string& content, mode_t mode) {
    const std::string file = path_ + "/" + name;
    FILE* f = fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(content.c_str(), f);
    fclose(f);
    chmod(file.c_str(), mode);
  }

  std::string path_;
  std::optional<RootDirectory> root_;
};

TEST_P(RootDirectoryTest, OpensARegularFileForReading) {
  OpenedFile opened = root_->OpenFile("/boot.img");
  ASSERT_TRUE(opened.ok()) << opened.message;
  EXPECT_FALSE(opened.already_held);
  char buffer[16] = {};
  EXPECT_EQ(read(opened.fd, buffer, sizeof buffer), 6);
  EXPECT_EQ(std::string(buffer), "kernel");
  close(opened.fd);
}

TEST_P(RootDirectoryTest, AHeldVersionIsCheckedButNotOpened) {
  struct stat expected;
  ASSERT_EQ(stat((path_ + "/boot.img").c_str(), &expected), 0);
  int asked = 0;
  OpenedFile opened = root_->OpenFile("boot.img", [&](const struct stat& info) {
    ++asked;
    return info.st_ino == expected.st_ino && info.st_dev == expected.st_dev &&
           info.st_size == expected.st_size;
  });
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(opened.ok());
  EXPECT_TRUE(opened.already_held);
  EXPECT_EQ(opened.fd, -1);
  EXPECT_EQ(opened.info.st_ino, expected.st_ino);
}

TEST_P(RootDirectoryTest, AHeldVersionIsStillRefusedWhenNotWorldReadable) {
  // What the caller holds never lets it skip the checks.
  OpenedFile opened =
      root_->OpenFile("private.img", [](const struct stat&) { return true; });
  EXPECT_FALSE(opened.ok());
  EXPECT_EQ(opened.error, tftp::ErrorCode::kAccessViolation);
  opened =
      root_->OpenFile("../etc/passwd", [](const struct stat&) { return true; });
  EXPECT_FALSE(opened.ok());
  opened = root_->OpenFile("missing", [](const struct stat&) { return true; });
  EXPECT_FALSE(opened.ok());
  EXPECT_EQ(opened.error, tftp::ErrorCode::kFileNotFound);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, RootDirectoryTest,
                         ::testing::Values(RootDirectory::Resolver::kAuto,
                                           RootDirectory::Resolver::kPortable));

}  // namespace
}  // namespace tftpd
