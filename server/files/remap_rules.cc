#include "server/files/remap_rules.h"

#include <netinet/in.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tftpd {
namespace {

// Bounds on rule evaluation: a rule set that loops (s rules that keep
// matching, a g rule whose replacement matches again) refuses the request
// instead of spinning a shard.
constexpr int kMaxRuleVisits = 256;
constexpr int kMaxGlobalRepeats = 1024;
// Rewrites may grow a name (an s rule doubling it on every restart would
// otherwise take all memory); past this, the request is refused. Requests
// carry at most 503 bytes of name.
constexpr size_t kMaxRewrittenLength = 1024;

// The next field of `line` from `*at`: leading blanks skipped, ended by an
// unescaped blank or '#'; backslashes are kept for the next stage.
std::string NextField(absl::string_view line, size_t* at) {
  size_t i = *at;
  while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) {
    ++i;
  }
  std::string field;
  bool escaped = false;
  for (; i < line.size(); ++i) {
    const char c = line[i];
    if (!escaped && (std::isspace(static_cast<unsigned char>(c)) || c == '#')) {
      break;
    }
    escaped = !escaped && c == '\\';
    field.push_back(c);
  }
  *at = i;
  return field;
}

// Whether `pattern` puts a repetition operator right after another ("a++",
// "a*{2}"). glibc's regcomp copies the operand once per operator, so a few
// dozen stacked operators take all memory; no useful rule needs them.
bool HasStackedRepetition(absl::string_view pattern) {
  bool after_repetition = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {  // An escaped character is an ordinary operand.
      ++i;
      after_repetition = false;
    } else if (c == '[') {  // A bracket expression: skip to its end.
      size_t j = i + 1;
      if (j < pattern.size() && pattern[j] == '^') ++j;
      if (j < pattern.size() && pattern[j] == ']') ++j;
      while (j < pattern.size() && pattern[j] != ']') ++j;
      i = j;
      after_repetition = false;
    } else if (c == '*' || c == '+' || c == '?' || c == '{') {
      if (after_repetition) return true;
      if (c == '{') {
        while (i < pattern.size() && pattern[i] != '}') ++i;
      }
      after_repetition = true;
    } else {
      after_repetition = false;
    }
  }
  return false;
}

std::string ClientHex(const io::SocketAddress& client) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  const io::SocketAddress address = client.Unmapped();
  absl::string_view bytes;
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.get());
    bytes = absl::string_view(reinterpret_cast<const char*>(&v4->sin_addr), 4);
  } else if (address.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.get());
    bytes =
        absl::string_view(reinterpret_cast<const char*>(&v6->sin6_addr), 16);
  }
  std::string hex;
  for (unsigned char byte : bytes) {
    hex.push_back(kDigits[byte >> 4]);
    hex.push_back(kDigits[byte & 15]);
  }
  return hex;
}

// `replacement` with its escapes expanded for one match of `input`.
std::string Expand(absl::string_view replacement, absl::string_view input,
                   const regmatch_t* match, const io::SocketAddress& client) {
  enum class Case { kAsIs, kUpper, kLower } mode = Case::kAsIs;
  std::string out;
  auto put = [&](absl::string_view text) {
    for (char c : text) {
      const unsigned char u = static_cast<unsigned char>(c);
      out.push_back(mode == Case::kUpper   ? static_cast<char>(std::toupper(u))
                    : mode == Case::kLower ? static_cast<char>(std::tolower(u))
                                           : c);
    }
  };
  for (size_t i = 0; i < replacement.size(); ++i) {
    const char c = replacement[i];
    if (c != '\\' || i + 1 == replacement.size()) {
      put(absl::string_view(&c, 1));
      continue;
    }
    const char macro = replacement[++i];
    if (macro >= '0' && macro <= '9') {
      const regmatch_t& m = match[macro - '0'];
      if (m.rm_so >= 0) {
        put(input.substr(static_cast<size_t>(m.rm_so),
                         static_cast<size_t>(m.rm_eo - m.rm_so)));
      }
    } else if (macro == 'i') {
      put(client.Unmapped().HostString());
    } else if (macro == 'x') {
      put(ClientHex(client));
    } else if (macro == 'U') {
      mode = Case::kUpper;
    } else if (macro == 'L') {
      mode = Case::kLower;
    } else if (macro == 'E') {
      mode = Case::kAsIs;
    } else {
      put(absl::string_view(&macro, 1));  // "\\", "\ ", "\#", ...
    }
  }
  return out;
}

}  // namespace

RemapRules::~RemapRules() {
  for (auto& rule : rules_) regfree(&rule->regex);
}

bool RemapRules::SetOperation(char op, Rule& rule, int& flags) {
  switch (op) {
    case 'r':
      rule.rewrite = true;
      break;
    case 'g':
      rule.global = true;
      break;
    case 'i':
      flags |= REG_ICASE;
      break;
    case 'e':
      rule.end = true;
      break;
    case 's':
      rule.restart = true;
      break;
    case 'a':
      rule.abort = true;
      break;
    case '~':
      rule.inverse = true;
      break;
    case 'G':
    case 'P':
      rule.only_request = op;
      break;
    case '4':
      rule.only_family = 4;
      break;
    case '6':
      rule.only_family = 6;
      break;
    default:
      return false;
  }
  return true;
}

absl::StatusOr<std::shared_ptr<const RemapRules>> RemapRules::Parse(
    absl::string_view text) {
  std::shared_ptr<RemapRules> rules(new RemapRules());
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    size_t at = 0;
    const std::string operations = NextField(line, &at);
    if (operations.empty()) continue;  // Blank or comment.
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("map file line ", line_number, ": ", what));
    };
    auto rule = std::make_unique<Rule>();
    int flags = REG_EXTENDED;
    for (char op : operations) {
      if (!SetOperation(op, *rule, flags)) {
        return error(absl::StrCat("unknown operation '",
                                  absl::string_view(&op, 1), "' in \"",
                                  operations, "\""));
      }
    }
    if (!rule->rewrite) rule->global = false;
    if (rule->rewrite && rule->inverse) {
      return error("an r rule cannot be inverted with ~");
    }
    const std::string pattern = NextField(line, &at);
    if (pattern.empty()) return error("no regex");
    if (HasStackedRepetition(pattern)) {
      return error(
          absl::StrCat("regex \"", pattern, "\" stacks repetition operators"));
    }
    if (const int rc = regcomp(&rule->regex, pattern.c_str(), flags); rc != 0) {
      char message[256];
      regerror(rc, &rule->regex, message, sizeof message);
      return error(absl::StrCat("bad regex \"", pattern, "\": ", message));
    }
    rule->replacement = NextField(line, &at);
    rules->rules_.push_back(std::move(rule));
  }
  return std::shared_ptr<const RemapRules>(std::move(rules));
}

absl::StatusOr<std::shared_ptr<const RemapRules>> RemapRules::Load(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::shared_ptr<const RemapRules>> rules = Parse(text.str());
  if (!rules.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", rules.status().message()));
  }
  return rules;
}

RemapRules::Result RemapRules::Apply(absl::string_view path, bool write,
                                     const io::SocketAddress& client) const {
  Result result;
  std::string current(path);
  const int family = client.Unmapped().family() == AF_INET ? 4 : 6;
  const char request = write ? 'P' : 'G';
  int visits = 0;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& rule = *rules_[i];
    if (rule.only_request != 0 && rule.only_request != request) continue;
    if (rule.only_family != 0 && rule.only_family != family) continue;
    if (++visits > kMaxRuleVisits) {
      result.refused = true;
      result.message = "remap rules did not terminate";
      return result;
    }
    bool matched = false;
    for (int repeat = 0;; ++repeat) {
      regmatch_t match[10];
      const bool hit = (regexec(&rule.regex, current.c_str(), 10, match, 0) ==
                        0) != rule.inverse;
      if (!hit) break;
      matched = true;
      if (rule.inverse) {
        for (regmatch_t& m : match) m.rm_so = m.rm_eo = -1;
      }
      if (rule.abort) {
        result.refused = true;
        result.message = Expand(rule.replacement, current, match, client);
        if (result.message.empty()) result.message = "access denied";
        return result;
      }
      if (rule.rewrite) {
        const size_t start = static_cast<size_t>(match[0].rm_so);
        const size_t end = static_cast<size_t>(match[0].rm_eo);
        current = absl::StrCat(current.substr(0, start),
                               Expand(rule.replacement, current, match, client),
                               current.substr(end));
        if (current.size() > kMaxRewrittenLength) {
          result.refused = true;
          result.message = "remapped name too long";
          return result;
        }
      }
      if (!rule.global) break;
      if (repeat + 1 >= kMaxGlobalRepeats) {
        result.refused = true;
        result.message = "remap rules did not terminate";
        return result;
      }
    }
    if (!matched) continue;
    if (rule.end) break;
    if (rule.restart) i = static_cast<size_t>(-1);  // The loop's ++ makes 0.
  }
  result.path = std::move(current);
  return result;
}

}  // namespace tftpd
