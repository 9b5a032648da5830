// Files for tests: a temporary directory removed at the end, whole-file
// reads, and deterministic content.
#ifndef TFTPD_TESTS_TESTING_FILES_H_
#define TFTPD_TESTS_TESTING_FILES_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace tftpd::testing {

// A directory under the test's temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` (parents created).
  void Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);

// Deterministic content that differs block to block.
std::string TestContent(size_t size, uint32_t seed = 1);

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_TESTING_FILES_H_
