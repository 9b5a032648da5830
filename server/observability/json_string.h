// Text as a JSON string literal, for text a client chose (file names) or a
// program attached (upload fields): the status page's JSON and the
// PostgreSQL sink's jsonb.
#ifndef TFTPD_SERVER_OBSERVABILITY_JSON_STRING_H_
#define TFTPD_SERVER_OBSERVABILITY_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace tftpd {

// `text` in double quotes. Well-formed UTF-8 passes through as it is ("é"
// stays "é"); '"' and '\\' are escaped, and control characters as \u00XX.
// A byte that is not part of well-formed UTF-8, and NUL (which jsonb
// refuses), appear as the four visible characters \xNN (the JSON text
// "\\xNN"), as the log writes them: never as the character U+00NN, which
// would show another name than the one sent.
std::string JsonString(absl::string_view text);

}  // namespace tftpd

#endif  // TFTPD_SERVER_OBSERVABILITY_JSON_STRING_H_
