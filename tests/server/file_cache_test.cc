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
  absl::StatusOr<const std::vector<uint8_t>*> image =
      cache_.NetasciiImage(file, 100);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(std::string((*image)->begin(), (*image)->end()),
            std::string("a\r\nb\r\0c", 7));
  cache_.Release(file);
}

// Netascii images share a budget: images of idle files make room; images
// of files in use are kept, and a new one that does not fit is refused.
TEST(FileCacheBudget, NetasciiImagesStayWithinTheBudget) {
  FileCache cache(/*netascii_budget=*/100);
  const std::string dir =
      std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp");
  auto load = [&](const std::string& name, size_t size, struct stat* info) {
    const std::string path = dir + "/" + name;
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0);
    const std::string content(size, 'x');
    EXPECT_EQ(pwrite(fd, content.data(), size, 0), static_cast<ssize_t>(size));
    EXPECT_EQ(fstat(fd, info), 0);
    void* data = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    return cache.Adopt(*info, static_cast<const uint8_t*>(data));
  };
  struct stat first_info {
  }, second_info{};
  SharedFile* first = load("budget_first", 60, &first_info);
  ASSERT_TRUE(cache.NetasciiImage(first, 1000).ok());
  SharedFile* second = load("budget_second", 50, &second_info);
  // The first is in use: its image stays, and the second's does not fit.
  EXPECT_TRUE(absl::IsUnavailable(cache.NetasciiImage(second, 1000).status()));
  EXPECT_EQ(cache.netascii_bytes(), 60u);
  cache.Release(first);  // Idle now: its image may go.
  ASSERT_TRUE(cache.NetasciiImage(second, 1000).ok());
  EXPECT_EQ(cache.netascii_bytes(), 50u);
  EXPECT_EQ(cache.netascii_images_dropped(), 1u);
  cache.Release(second);
}

TEST_F(FileCacheTest, NetasciiOfALargeFileIsRefusedBeforeReadingIt) {
  struct stat info {};
  SharedFile* file = Load(std::string(5000, 'x'), &info);
  EXPECT_TRUE(
      absl::IsResourceExhausted(cache_.NetasciiImage(file, 4096).status()));
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
      cache_.NetasciiImage(file, 1 << 20);
  EXPECT_TRUE(absl::IsDataLoss(image.status())) << image.status();
  cache_.Release(file);
}

}  // namespace
}  // namespace tftpd
