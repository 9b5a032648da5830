// The file cache's mappings: netascii images built from them, and a file
// rewritten in place under its mapping noticed rather than faulting.
#include "server/files/file_cache.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace tftpd {
namespace {

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ =
        std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
        "/file_cache_XXXXXX";
    fd_ = mkstemp(path_.data());
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    close(fd_);
    unlink(path_.c_str());
  }

  // Writes `content`, maps it and hands the mapping to the cache.
  SharedFile* Load(const std::string& content, struct stat* info) {
    EXPECT_EQ(pwrite(fd_, content.data(), content.size(), 0),
              static_cast<ssize_t>(content.size()));
    EXPECT_EQ(fstat(fd_, info), 0);
    void* data = mmap(nullptr, content.size(), PROT_READ, MAP_SHARED, fd_, 0);
    EXPECT_NE(data, MAP_FAILED);
    return cache_.Adopt(*info, static_cast<const uint8_t*>(data));
  }

  std::string path_;
  int fd_ = -1;
  FileCache cache_;
};

TEST_F(FileCacheTest, NetasciiImageConvertsLineEnds) {
  struct stat info {};
  SharedFile* file = Load("a\nb\rc", &info);
  absl::StatusOr<const std::vector<uint8_t>*> image = file->NetasciiImage(100);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(std::string((*image)->begin(), (*image)->end()),
            std::string("a\r\nb\r\0c", 7));
  cache_.Release(file);
}

TEST_F(FileCacheTest, NetasciiOfALargeFileIsRefusedBeforeReadingIt) {
  struct stat info {};
  SharedFile* file = Load(std::string(5000, 'x'), &info);
  EXPECT_TRUE(absl::IsResourceExhausted(file->NetasciiImage(4096).status()));
  cache_.Release(file);
}

TEST_F(FileCacheTest, AFileTruncatedUnderItsMappingIsNoticedNotFatal) {
  // Three pages, then cut to one: the mapping's last two pages no longer
  // have a file behind them, and touching them would raise SIGBUS.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  struct stat info {};
  SharedFile* file = Load(std::string(3 * page, 'x'), &info);
  ASSERT_EQ(ftruncate(fd_, static_cast<off_t>(page)), 0);
  const absl::StatusOr<const std::vector<uint8_t>*> image =
      file->NetasciiImage(1 << 20);
  EXPECT_TRUE(absl::IsDataLoss(image.status())) << image.status();
  cache_.Release(file);
}

}  // namespace
}  // namespace tftpd
