// Requested-name rewriting with tftpd-hpa's --map-file syntax, so that the
// rules PXE sites already have keep working. One rule per line:
//
//   <operations> <regex> [<replacement>]      # comment
//
// Regexes are POSIX extended; a backslash keeps the next character in the
// field (so "\ " is a space and "\#" a hash). Operations:
//   r  replace the matched part with the replacement
//   g  repeat the r rule until it no longer matches
//   i  match case-insensitively
//   e  end: when this rule matches, stop after it
//   s  start over from the first rule when this rule matches
//   a  refuse the request (ERROR 2) when this rule matches; the replacement,
//      if any, becomes the error message
//   ~  the rule applies when the regex does NOT match (not with r)
//   G  only read requests; P  only write requests
//   4  only IPv4 clients; 6  only IPv6 clients
// Replacement escapes: \0 the whole match, \1-\9 groups, \i the client's IP
// address, \x the client's IPv4 address in hex (C0A80001; IPv6: 32 digits),
// \U \L \E upper, lower or unchanged case for what follows, \\ a backslash.
#ifndef TFTPD_SERVER_FILES_REMAP_RULES_H_
#define TFTPD_SERVER_FILES_REMAP_RULES_H_

#include <regex.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/socket_address.h"

namespace tftpd {

class RemapRules {
 public:
  // Errors name the line and what is wrong with it.
  static absl::StatusOr<std::shared_ptr<const RemapRules>> Parse(
      absl::string_view text);
  static absl::StatusOr<std::shared_ptr<const RemapRules>> Load(
      const std::string& path);
  ~RemapRules();
  RemapRules(const RemapRules&) = delete;
  RemapRules& operator=(const RemapRules&) = delete;

  struct Result {
    bool refused = false;
    std::string path;     // The rewritten name, unless refused.
    std::string message;  // When refused.
  };
  // Thread-safe.
  Result Apply(absl::string_view path, bool write,
               const io::SocketAddress& client) const;
  size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    regex_t regex;
    bool rewrite = false, global = false, end = false, restart = false,
         abort = false, inverse = false;
    char only_request = 0;  // 'G', 'P' or 0.
    int only_family = 0;    // 4, 6 or 0.
    std::string replacement;
  };
  RemapRules() = default;
  // One letter of a rule's operations applied to `rule` (or, for 'i', to
  // its regcomp `flags`); false for a letter tftpd-hpa does not define.
  static bool SetOperation(char op, Rule& rule, int& flags);

  std::vector<std::unique_ptr<Rule>> rules_;
};

// The rules in force, replaced as a whole on reload (SIGHUP) while shards
// go on reading the previous set.
class RemapTable {
 public:
  // A copy of the pointer under a lock held for nothing else: uncontended
  // but for the moment of a reload.
  std::shared_ptr<const RemapRules> get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rules_;
  }
  void set(std::shared_ptr<const RemapRules> rules) {
    std::lock_guard<std::mutex> lock(mutex_);
    rules_.swap(rules);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const RemapRules> rules_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_FILES_REMAP_RULES_H_
