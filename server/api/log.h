// Leveled log lines on standard error, one write per line so that lines from
// different shards never interleave.
#ifndef TFTPD_SERVER_API_LOG_H_
#define TFTPD_SERVER_API_LOG_H_

#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace tftpd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// "debug", "info", "warning" or "error".
std::optional<LogLevel> ParseLogLevel(absl::string_view name);
void WriteLogLine(LogLevel level, absl::string_view message);

// A value for a key=value field of a log line, as logfmt writes it: bare
// when it is plain (printable ASCII without space, '"', '=' or '\\'), else
// in double quotes with '"', '\\' and every other byte outside printable
// ASCII escaped. A name a client chose can then neither end the line nor
// forge a field.
std::string LogValue(absl::string_view value);

}  // namespace tftpd

// Formats only when the level is enabled.
#define TFTPD_LOG(level, ...)                                \
  do {                                                       \
    if (::tftpd::LogEnabled(::tftpd::LogLevel::level)) {     \
      ::tftpd::WriteLogLine(::tftpd::LogLevel::level,        \
                            ::absl::StrFormat(__VA_ARGS__)); \
    }                                                        \
  } while (0)

#endif  // TFTPD_SERVER_API_LOG_H_
