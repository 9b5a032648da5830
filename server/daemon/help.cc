#include "server/daemon/help.h"

#include <cstdio>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gflags/gflags.h"

DECLARE_bool(help);

namespace tftpd {
namespace {

struct GroupPlan {
  const char* title;
  std::vector<const char*> flags;
};

// The order an operator meets them in: what is served and how, what keeps
// the server safe under load and attack, uploads, what it tells, and the
// process around it.
const std::vector<GroupPlan>& Plan() {
  static const auto* plan = new std::vector<GroupPlan>{
      {"Serving",
       {"root",
        "address",
        "port",
        "port_file",
        "map_file",
        "threads",
        "single_port",
        "single_port_uploads",
        "listener",
        "io_backend",
        "blksize_max",
        "windowsize_max",
        "timeout",
        "max_timeout",
        "retries",
        "spin_us",
        "resend_on_duplicate_ack",
        "source_timeout",
        "permissive",
        "portable_resolver"}},
      {"Limits and defences",
       {"max_transfers", "max_transfers_per_address",
        "requests_per_second_per_address", "unverified_bytes_max",
        "unanswered_timeout", "rcvbuf"}},
      {"Uploads",
       {"allow_write", "write_root", "create", "overwrite", "umask",
        "max_upload_bytes", "commit_queue", "upload_database", "upload_table",
        "upload_spool"}},
      {"Observability",
       {"log_level", "metrics_address", "metrics_connections",
        "metrics_timeout", "stats_interval"}},
      {"Process", {"user", "chroot", "secure", "shutdown_grace", "flagfile"}},
      {"Testing and old names",
       {"inject_faults", "max_sessions", "max_sessions_per_address"}},
  };
  return *plan;
}

constexpr absl::string_view kTftpdFlagsFile = "server/daemon/flags.cc";

bool IsGflagsOwn(const gflags::CommandLineFlagInfo& info) {
  return absl::StrContains(info.filename, "gflags");
}

DocumentedFlag Document(const gflags::CommandLineFlagInfo& info) {
  return DocumentedFlag{info.name, info.type, info.default_value,
                        info.description};
}

// `text` in lines of at most `width` characters after `indent`.
std::string Wrap(absl::string_view text, size_t indent, size_t width) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
      line.clear();
    }
    if (!line.empty()) line += ' ';
    absl::StrAppend(&line, word);
  }
  if (!line.empty())
    absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  return out;
}

std::string ShownDefault(const DocumentedFlag& flag) {
  if (flag.type == "string")
    return absl::StrCat("\"", flag.default_value, "\"");
  return flag.default_value;
}

// roff text: a backslash is \e, a hyphen in a flag is \-, and a line may
// not start with a control character.
std::string Roff(absl::string_view text) {
  std::string out = absl::StrReplaceAll(text, {{"\\", "\\e"}});
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

std::string RoffFlag(absl::string_view name) {
  return absl::StrCat("\\-\\-", absl::StrReplaceAll(name, {{"-", "\\-"}}));
}

std::string MarkdownCell(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"|", "\\|"}});
}

}  // namespace

std::vector<FlagGroup> GroupFlags(absl::string_view program) {
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  absl::flat_hash_set<std::string> placed;
  std::vector<FlagGroup> groups;
  for (const GroupPlan& plan : Plan()) {
    FlagGroup group{plan.title, {}};
    for (const char* name : plan.flags) {
      gflags::CommandLineFlagInfo info;
      if (!gflags::GetCommandLineFlagInfo(name, &info)) continue;
      group.flags.push_back(Document(info));
      placed.insert(name);
    }
    groups.push_back(std::move(group));
  }
  FlagGroup own{absl::StrCat(program, "'s own flags"), {}};
  for (const gflags::CommandLineFlagInfo& info : all) {
    if (IsGflagsOwn(info) || placed.contains(info.name)) continue;
    own.flags.push_back(Document(info));
  }
  if (!own.flags.empty()) groups.push_back(std::move(own));
  return groups;
}

std::vector<std::string> UngroupedTftpdFlags() {
  absl::flat_hash_set<std::string> placed;
  for (const GroupPlan& plan : Plan())
    placed.insert(plan.flags.begin(), plan.flags.end());
  std::vector<gflags::CommandLineFlagInfo> all;
  gflags::GetAllFlags(&all);
  std::vector<std::string> out;
  for (const gflags::CommandLineFlagInfo& info : all) {
    if (info.filename == kTftpdFlagsFile && !placed.contains(info.name)) {
      out.push_back(info.name);
    }
  }
  return out;
}

std::string HelpText(absl::string_view program, absl::string_view usage) {
  std::string out = absl::StrCat(usage, "\n");
  for (const FlagGroup& group : GroupFlags(program)) {
    absl::StrAppend(&out, "\n", group.title, ":\n");
    for (const DocumentedFlag& flag : group.flags) {
      absl::StrAppend(&out, "  --", flag.name, "  (", flag.type,
                      ", default: ", ShownDefault(flag), ")\n",
                      Wrap(flag.description, 6, 72));
    }
  }
  absl::StrAppend(&out,
                  "\nFlags may also come from a file: --flagfile=FILE, one "
                  "--flag=value per line.\ngflags' own flags: --helpfull.\n");
  return out;
}

std::string ManPage() {
  std::string out =
      ".TH TFTPD 8 \"\" \"tftpd\" \"System Administration\"\n"
      ".SH NAME\n"
      "tftpd \\- TFTP server for network boot (PXE, UEFI, iPXE)\n"
      ".SH SYNOPSIS\n"
      ".B tftpd\n"
      "[\\fB\\-\\-root\\fR=\\fIDIR\\fR] [\\fB\\-\\-port\\fR=\\fIN\\fR] "
      "[\\fIflags\\fR]\n"
      ".br\n"
      ".B tftpd\n"
      "\\fB\\-\\-flagfile\\fR=\\fI/etc/tftpd/tftpd.flags\\fR\n"
      ".SH DESCRIPTION\n"
      "tftpd serves files over TFTP (RFC 1350, 2347, 2348, 2349, 7440) to "
      "machines that boot from the network, and accepts uploads when asked "
      "to. It reads names beneath its root only, bounds what any client can "
      "make it hold or send, and reports each transfer in its log and in "
      "Prometheus metrics.\n"
      ".PP\n"
      "Installed as a service, it is started by systemd from "
      "\\fBtftpd.socket\\fR with the flags in \\fI/etc/tftpd/tftpd.flags\\fR, "
      "serving \\fI/srv/tftp\\fR as the \\fBtftpd\\fR user.\n"
      ".SH OPTIONS\n";
  for (const FlagGroup& group : GroupFlags("tftpd")) {
    absl::StrAppend(&out, ".SS ", group.title, "\n");
    for (const DocumentedFlag& flag : group.flags) {
      absl::StrAppend(&out, ".TP\n\\fB", RoffFlag(flag.name), "\\fR \\fI",
                      flag.type, "\\fR (default: ", Roff(ShownDefault(flag)),
                      ")\n", Roff(flag.description), "\n");
    }
  }
  absl::StrAppend(
      &out,
      ".SH SIGNALS\n"
      "SIGINT and SIGTERM stop taking requests and let transfers finish for "
      "\\fB\\-\\-shutdown_grace\\fR; a second signal stops at once. SIGHUP "
      "reloads \\fB\\-\\-map_file\\fR.\n"
      ".SH FILES\n"
      ".TP\n\\fI/etc/tftpd/tftpd.flags\\fR\n"
      "The service's flags, one \\fB\\-\\-flag\\fR=\\fIvalue\\fR per line.\n"
      ".TP\n\\fI/srv/tftp\\fR\n"
      "The directory the service serves.\n"
      ".SH SEE ALSO\n"
      "\\fBsystemd.socket\\fR(5), \\fBin.tftpd\\fR(8)\n");
  return out;
}

std::string MarkdownFlagTable() {
  std::string out;
  for (const FlagGroup& group : GroupFlags("tftpd")) {
    absl::StrAppend(&out, "\n#### ", group.title, "\n\n",
                    "| flag | default | what it does |\n|---|---|---|\n");
    for (const DocumentedFlag& flag : group.flags) {
      absl::StrAppend(&out, "| `--", flag.name, "` | ",
                      MarkdownCell(ShownDefault(flag)), " | ",
                      MarkdownCell(flag.description), " |\n");
    }
  }
  return out;
}

bool PrintHelpIfAsked(absl::string_view program, absl::string_view usage) {
  if (!FLAGS_help) return false;
  const std::string text = HelpText(program, usage);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return true;
}

}  // namespace tftpd
