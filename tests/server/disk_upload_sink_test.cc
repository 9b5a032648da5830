// Uploads to disk: all or nothing, confined to the write root, never
// replacing a file unless asked, and clear errors for each refusal.
#include "server/uploads/disk_upload_sink.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tftpd {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

class DiskUpload : public ::testing::TestWithParam<RootDirectory::Resolver> {
 protected:
  void SetUp() override {
    base_ = fs::path(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") /
            ("uploads_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "root" / "configs");
    std::ofstream(base_ / "outside") << "outside";
    auto root = RootDirectory::Open((base_ / "root").string(), GetParam());
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = std::make_unique<RootDirectory>(std::move(*root));
  }
  void TearDown() override { fs::remove_all(base_); }

  // The names in `dir`, sorted.
  std::vector<std::string> Listing(const fs::path& dir) const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  absl::StatusOr<std::unique_ptr<UploadSink>> Open(const std::string& name,
                                                   bool create = true,
                                                   bool overwrite = false) {
    return OpenDiskUpload(*root_, name,
                          {.create = create, .overwrite = overwrite});
  }

  fs::path base_;
  std::unique_ptr<RootDirectory> root_;
};

TEST_P(DiskUpload, AppearsOnlyWhenCommittedWithEveryByte) {
  auto sink = Open("configs/switch1.cfg");
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Write(0, Bytes("hostname switch1\n")).ok());
  ASSERT_TRUE((*sink)->Write(17, Bytes("end\n")).ok());
  // Meanwhile only a temporary name exists.
  const std::vector<std::string> during = Listing(base_ / "root" / "configs");
  ASSERT_EQ(during.size(), 1u);
  EXPECT_EQ(during[0].rfind(".tftpd-upload-", 0), 0u) << during[0];
  ASSERT_TRUE((*sink)->Commit(21).ok());
  EXPECT_EQ(Listing(base_ / "root" / "configs"),
            std::vector<std::string>{"switch1.cfg"});
  EXPECT_EQ(Slurp(base_ / "root" / "configs" / "switch1.cfg"),
            "hostname switch1\nend\n");
  struct stat info;
  ASSERT_EQ(stat((base_ / "root" / "configs" / "switch1.cfg").c_str(), &info),
            0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_P(DiskUpload, AnUploadThatDoesNotCompleteLeavesNothing) {
  {
    auto sink = Open("configs/a.cfg");
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Write(0, Bytes("half")).ok());
    (*sink)->Abandon();
  }
  {
    auto sink = Open("configs/b.cfg");
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Write(0, Bytes("half")).ok());
    // Dropped without a word (the server stopping): the same.
  }
  EXPECT_TRUE(Listing(base_ / "root" / "configs").empty());
}

TEST_P(DiskUpload, ExistingFilesAreReplacedOnlyWithOverwrite) {
  std::ofstream(base_ / "root" / "configs" / "fw.cfg") << "old";
  fs::permissions(base_ / "root" / "configs" / "fw.cfg",
                  fs::perms::owner_read | fs::perms::owner_write |
                      fs::perms::group_read | fs::perms::group_write |
                      fs::perms::others_read | fs::perms::others_write);
  auto refused = Open("configs/fw.cfg");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(UploadErrorCode(refused.status()), tftp::ErrorCode::kFileExists);
  auto sink = Open("configs/fw.cfg", /*create=*/false, /*overwrite=*/true);
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Write(0, Bytes("new")).ok());
  // Until the commit, readers still see the old file whole.
  EXPECT_EQ(Slurp(base_ / "root" / "configs" / "fw.cfg"), "old");
  ASSERT_TRUE((*sink)->Commit(3).ok());
  EXPECT_EQ(Slurp(base_ / "root" / "configs" / "fw.cfg"), "new");
  // It keeps the mode of the file it replaced.
  struct stat info;
  ASSERT_EQ(stat((base_ / "root" / "configs" / "fw.cfg").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0666u);
}

// A file the world may not write is not replaced, unless overwrite_any.
TEST_P(DiskUpload, OnlyWorldWritableFilesAreReplaced) {
  std::ofstream(base_ / "root" / "configs" / "pxelinux.0") << "boot";
  fs::permissions(base_ / "root" / "configs" / "pxelinux.0",
                  fs::perms::owner_read | fs::perms::owner_write |
                      fs::perms::group_read | fs::perms::others_read);
  auto refused = Open("configs/pxelinux.0", /*create=*/false,
                      /*overwrite=*/true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(UploadErrorCode(refused.status()),
            tftp::ErrorCode::kAccessViolation);
  auto sink = OpenDiskUpload(
      *root_, "configs/pxelinux.0",
      {.create = false, .overwrite = true, .overwrite_any = true});
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Write(0, Bytes("new")).ok());
  ASSERT_TRUE((*sink)->Commit(3).ok());
  struct stat info;
  ASSERT_EQ(stat((base_ / "root" / "configs" / "pxelinux.0").c_str(), &info),
            0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
}

TEST_P(DiskUpload, NewFilesTakeTheUmask) {
  auto sink = OpenDiskUpload(*root_, "configs/public.cfg",
                             {.create = true, .umask = 022});
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Commit(0).ok());
  struct stat info;
  ASSERT_EQ(stat((base_ / "root" / "configs" / "public.cfg").c_str(), &info),
            0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
}

TEST_P(DiskUpload, NewFilesNeedCreate) {
  auto refused = Open("configs/new.cfg", /*create=*/false, /*overwrite=*/true);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(UploadErrorCode(refused.status()), tftp::ErrorCode::kFileNotFound);
}

TEST_P(DiskUpload, TwoUploadsOfOneNameEndWithOneFileAndOneError) {
  auto first = Open("configs/race.cfg");
  auto second = Open("configs/race.cfg");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->Write(0, Bytes("first")).ok());
  ASSERT_TRUE((*second)->Write(0, Bytes("second")).ok());
  ASSERT_TRUE((*second)->Commit(6).ok());
  const absl::Status late = (*first)->Commit(5);
  EXPECT_EQ(UploadErrorCode(late), tftp::ErrorCode::kFileExists) << late;
  EXPECT_EQ(Slurp(base_ / "root" / "configs" / "race.cfg"), "second");
  EXPECT_EQ(Listing(base_ / "root" / "configs"),
            std::vector<std::string>{"race.cfg"});
}

TEST_P(DiskUpload, NamesStayInsideTheRootAndDirectoriesAreNotMade) {
  fs::create_symlink(base_ / "outside", base_ / "root" / "link_out");
  fs::create_symlink(base_, base_ / "root" / "dir_out");
  for (const std::string name :
       {"../escape", "configs/../../escape", "dir_out/escape", "link_out",
        "configs", "missing/dir/x.cfg", ".", "configs/", ""}) {
    auto sink = Open(name, true, true);
    EXPECT_FALSE(sink.ok()) << name;
    const tftp::ErrorCode code = UploadErrorCode(sink.status());
    EXPECT_TRUE(code == tftp::ErrorCode::kAccessViolation ||
                code == tftp::ErrorCode::kFileNotFound)
        << name << ": " << sink.status();
  }
  EXPECT_EQ(Slurp(base_ / "outside"), "outside");
  EXPECT_FALSE(fs::exists(base_ / "escape"));
  EXPECT_FALSE(fs::exists(base_ / "root" / "missing"));
  // A leading slash names the root, as for reads.
  auto sink = Open("/configs/abs.cfg");
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Commit(0).ok());
  EXPECT_TRUE(fs::exists(base_ / "root" / "configs" / "abs.cfg"));
}

TEST_P(DiskUpload, AFullDiskIsError3AndLeavesNothing) {
  // RLIMIT_FSIZE makes writes past 4 KiB fail with EFBIG, as a full disk
  // fails them with ENOSPC (SIGXFSZ ignored, as a server would).
  auto sink = Open("configs/big.bin");
  ASSERT_TRUE(sink.ok());
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  sigaction(SIGXFSZ, &ignore, &previous);
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  rlimit small = saved;
  small.rlim_cur = 4096;
  setrlimit(RLIMIT_FSIZE, &small);
  const std::string block(1024, 'x');
  absl::Status status;
  for (uint64_t offset = 0; status.ok() && offset < 16384; offset += 1024) {
    status = (*sink)->Write(offset, Bytes(block));
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &previous, nullptr);
  EXPECT_EQ(UploadErrorCode(status), tftp::ErrorCode::kDiskFull) << status;
  (*sink)->Abandon();
  EXPECT_TRUE(Listing(base_ / "root" / "configs").empty());
}

// Content from the network never runs with another user's rights: a
// replaced set-user-ID, set-group-ID or sticky file loses those bits, as the
// kernel clears the first two on a write by a process without CAP_FSETID
// (tftpd may run as root).
TEST_P(DiskUpload, AReplacedFileLosesItsSetIdAndStickyBits) {
  for (const mode_t before : {04777, 02777, 06777, 01777}) {
    const fs::path target = base_ / "root" / "configs" / "tool.sh";
    std::ofstream(target) << "old";
    ASSERT_EQ(chmod(target.c_str(), before), 0);
    auto sink = Open("configs/tool.sh", /*create=*/false, /*overwrite=*/true);
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Write(0, Bytes("#!/bin/sh\n")).ok());
    ASSERT_TRUE((*sink)->Commit(10).ok());
    struct stat info;
    ASSERT_EQ(stat(target.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0777u) << std::oct << before;
    EXPECT_EQ(Slurp(target), "#!/bin/sh\n");
  }
}

// A WRQ alone (a forged one never sends a block) leaves nothing on disk;
// the temporary file comes with the first block.
TEST_P(DiskUpload, NothingIsMadeBeforeTheFirstBlock) {
  {
    auto sink = Open("configs/forged.cfg");
    ASSERT_TRUE(sink.ok()) << sink.status();
    EXPECT_TRUE(Listing(base_ / "root" / "configs").empty());
    ASSERT_TRUE((*sink)->Write(0, Bytes("x")).ok());
    EXPECT_EQ(Listing(base_ / "root" / "configs").size(), 1u);
  }
  EXPECT_TRUE(Listing(base_ / "root" / "configs").empty());
  // An empty upload has no block: the commit makes the file.
  auto empty = Open("configs/empty.cfg");
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE((*empty)->Commit(0).ok());
  EXPECT_EQ(Listing(base_ / "root" / "configs"),
            std::vector<std::string>{"empty.cfg"});
}

// What a crash leaves (temporary files of uploads in progress) is removed
// at the next start, in every directory below the root; nothing else is,
// and no link is followed out of it.
TEST_P(DiskUpload, LeftoversOfACrashAreRemovedAndNothingElse) {
  const fs::path configs = base_ / "root" / "configs";
  fs::create_directories(configs / "deep" / "er");
  std::ofstream(configs / ".tftpd-upload-0123456789abcdef") << "half";
  std::ofstream(configs / "deep" / "er" / ".tftpd-upload-fedcba9876543210")
      << "half";
  std::ofstream(configs / ".tftpd-upload-notours") << "keep";
  std::ofstream(configs / "switch.cfg") << "keep";
  fs::create_directories(base_ / "elsewhere");
  std::ofstream(base_ / "elsewhere" / ".tftpd-upload-0000000000000000")
      << "outside the root";
  fs::create_directory_symlink(base_ / "elsewhere", configs / "link");
  EXPECT_EQ(RemoveUploadLeftovers((base_ / "root").string()), 2u);
  EXPECT_EQ(Listing(configs),
            (std::vector<std::string>{".tftpd-upload-notours", "deep", "link",
                                      "switch.cfg"}));
  EXPECT_TRUE(Listing(configs / "deep" / "er").empty());
  EXPECT_TRUE(
      fs::exists(base_ / "elsewhere" / ".tftpd-upload-0000000000000000"));
}

INSTANTIATE_TEST_SUITE_P(
    Resolvers, DiskUpload,
    ::testing::Values(RootDirectory::Resolver::kAuto,
                      RootDirectory::Resolver::kPortable),
    [](const ::testing::TestParamInfo<RootDirectory::Resolver>& info) {
      return info.param == RootDirectory::Resolver::kAuto ? "openat2"
                                                          : "portable";
    });

}  // namespace
}  // namespace tftpd
