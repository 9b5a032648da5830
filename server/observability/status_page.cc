#include "server/observability/status_page.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/observability/json_string.h"

namespace tftpd {
namespace {

double Seconds(std::chrono::nanoseconds d) {
  return std::chrono::duration<double>(d).count();
}

double Rate(const TransferSnapshot& t) {
  const double seconds = Seconds(t.age);
  return seconds > 0 ? static_cast<double>(t.bytes_acknowledged) / seconds : 0;
}

// The oldest first (the renderers list at most kStatusRowsMax of them).
void Order(std::vector<TransferSnapshot>& transfers) {
  std::sort(transfers.begin(), transfers.end(),
            [](const TransferSnapshot& a, const TransferSnapshot& b) {
              return a.age > b.age;
            });
}

std::string Bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrFormat("%.0f B", bytes)
                   : absl::StrFormat("%.1f %s", bytes, units[unit]);
}

int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())
      .count();
}

constexpr char kStyle[] = R"(
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff}
th,td{padding:.25em .7em;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{width:12em;height:.9em;background:#e6e9ee;border-radius:3px;overflow:hidden}
.bar>div{height:100%;background:#3b7dd8}.bar.load>div{background:#5aa469}
.muted{color:#777}.bad{color:#b3261e}
)";

std::string FailuresJson(const std::vector<StatusBoard::Failure>& failures) {
  std::string out = "[";
  for (size_t i = 0; i < failures.size(); ++i) {
    const StatusBoard::Failure& f = failures[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"time\":", UnixSeconds(f.when),
                    ",\"client\":", JsonString(f.peer),
                    ",\"file\":", JsonString(f.file),
                    ",\"outcome\":", JsonString(f.outcome),
                    ",\"error_code\":", f.error_code,
                    ",\"error_message\":", JsonString(f.error_message), "}");
  }
  return out + "]";
}

void AppendFailures(absl::string_view title, absl::string_view none,
                    const std::vector<StatusBoard::Failure>& failures,
                    std::chrono::system_clock::time_point now,
                    std::string* out) {
  absl::StrAppend(out, "<h2>", title, "</h2>\n");
  if (failures.empty()) {
    absl::StrAppend(out, "<p class=\"muted\">", none, "</p>\n");
    return;
  }
  absl::StrAppend(out,
                  "<table><tr><th>ended</th><th>client</th><th>file</th>"
                  "<th>outcome</th><th>ERROR</th></tr>\n");
  for (const StatusBoard::Failure& f : failures) {
    absl::StrAppend(
        out, "<tr><td class=\"n\">",
        absl::StrFormat("%.0f s ago", Seconds(now - f.when)), "</td><td>",
        HtmlText(f.peer), "</td><td>", HtmlText(f.file),
        "</td><td class=\"bad\">", HtmlText(f.outcome), "</td><td>",
        f.error_code == 0 && f.error_message.empty()
            ? ""
            : absl::StrCat(f.error_code, " ", HtmlText(f.error_message)),
        "</td></tr>\n");
  }
  absl::StrAppend(out, "</table>\n");
}

}  // namespace

std::string HtmlText(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    }
  }
  return out;
}

std::string RenderStatusJson(StatusView view) {
  Order(view.transfers);
  std::string out = absl::StrCat("{\"time\":", UnixSeconds(view.now),
                                 ",\"transfers_total\":", view.transfers.size(),
                                 ",\"transfers\":[");
  const size_t rows = std::min(view.transfers.size(), kStatusRowsMax);
  for (size_t i = 0; i < rows; ++i) {
    const TransferSnapshot& t = view.transfers[i];
    absl::StrAppend(
        &out, i == 0 ? "" : ",", "{\"shard\":", t.shard,
        ",\"request_id\":", t.request_id,
        ",\"client\":", JsonString(t.peer.ToString()),
        ",\"file\":", JsonString(t.requested_path),
        ",\"upload\":", t.upload ? "true" : "false",
        ",\"phase\":", JsonString(t.phase),
        ",\"answered\":", t.answered ? "true" : "false",
        ",\"bytes\":", t.bytes_acknowledged,
        ",\"size\":", t.size.has_value() ? absl::StrCat(*t.size) : "null",
        ",\"rate_bytes_per_second\":", static_cast<uint64_t>(Rate(t)),
        ",\"packets_sent\":", t.packets_sent,
        ",\"retransmits\":", t.retransmits, ",\"blksize\":", t.blksize,
        ",\"windowsize\":", t.windowsize,
        ",\"age_seconds\":", absl::StrFormat("%.3f", Seconds(t.age)), "}");
  }
  absl::StrAppend(
      &out, "],\"failures\":", FailuresJson(view.failures),
      ",\"unanswered_failures\":", FailuresJson(view.unanswered_failures));
  absl::StrAppend(&out, ",\"files\":[");
  for (size_t i = 0; i < view.files.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",",
                    "{\"file\":", JsonString(view.files[i].name),
                    ",\"requests\":", view.files[i].count, "}");
  }
  absl::StrAppend(&out, "],\"shards\":[");
  for (size_t i = 0; i < view.shards.size(); ++i) {
    const ServerTotals& s = view.shards[i];
    absl::StrAppend(&out, i == 0 ? "" : ",", "{\"shard\":", i,
                    ",\"transfers_active\":", s.transfers_active,
                    ",\"transfers_started\":", s.transfers_started,
                    ",\"bytes_sent\":", s.bytes_sent, "}");
  }
  absl::StrAppend(&out, "]}\n");
  return out;
}

namespace {

// The transfers in progress, as a table of at most kStatusRowsMax rows.
void AppendTransfers(const std::vector<TransferSnapshot>& transfers,
                     std::string* out) {
  absl::StrAppend(out, "<h2 id=\"transfers\">Transfers in progress: ",
                  transfers.size(), "</h2>\n");
  if (transfers.empty()) {
    absl::StrAppend(out, "<p class=\"muted\">None.</p>\n");
  } else {
    absl::StrAppend(out,
                    "<table><tr><th>client</th><th>file</th><th>progress</th>"
                    "<th></th><th>rate</th><th>retransmits</th><th>age</th>"
                    "<th>shard</th></tr>\n");
    const size_t rows = std::min(transfers.size(), kStatusRowsMax);
    for (size_t i = 0; i < rows; ++i) {
      const TransferSnapshot& t = transfers[i];
      std::string bar;
      std::string done = Bytes(static_cast<double>(t.bytes_acknowledged));
      if (t.size.has_value() && *t.size > 0) {
        const double share =
            std::min(1.0, static_cast<double>(t.bytes_acknowledged) /
                              static_cast<double>(*t.size));
        bar =
            absl::StrFormat("<div style=\"width:%.1f%%\"></div>", share * 100);
        absl::StrAppend(&done, " of ", Bytes(static_cast<double>(*t.size)));
      }
      absl::StrAppend(
          out, "<tr class=\"transfer\"><td>", HtmlText(t.peer.ToString()),
          "</td><td>", HtmlText(t.requested_path), t.upload ? " (upload)" : "",
          "</td><td><div class=\"bar\">", bar, "</div></td><td class=\"n\">",
          done, t.answered ? "" : " <span class=\"muted\">(unanswered)</span>",
          "</td><td class=\"n\">", Bytes(Rate(t)), "/s</td><td class=\"n\">",
          t.retransmits, "</td><td class=\"n\">",
          absl::StrFormat("%.1f s", Seconds(t.age)), "</td><td class=\"n\">",
          t.shard, "</td></tr>\n");
    }
    absl::StrAppend(out, "</table>\n");
    if (transfers.size() > rows) {
      absl::StrAppend(out, "<p class=\"muted\">and ", transfers.size() - rows,
                      " more</p>\n");
    }
  }
}

void AppendTopFiles(const std::vector<StatusBoard::FileCount>& files,
                    std::string* out) {
  absl::StrAppend(out, "<h2>Most requested files</h2>\n");
  if (files.empty()) {
    absl::StrAppend(out, "<p class=\"muted\">No requests yet.</p>\n");
  } else {
    absl::StrAppend(out, "<table><tr><th>file</th><th>requests</th></tr>\n");
    for (const StatusBoard::FileCount& f : files) {
      absl::StrAppend(out, "<tr><td>", HtmlText(f.name),
                      "</td><td class=\"n\">", f.count, "</td></tr>\n");
    }
    absl::StrAppend(out, "</table>\n");
  }
}

// Each shard's transfers now, with a bar against the busiest.
void AppendShards(const std::vector<ServerTotals>& shards, std::string* out) {
  absl::StrAppend(out,
                  "<h2>Shards</h2>\n<table><tr><th>shard</th>"
                  "<th>transfers now</th><th></th><th>started</th>"
                  "<th>sent</th></tr>\n");
  uint64_t busiest = 1;
  for (const ServerTotals& s : shards) {
    busiest = std::max(busiest, s.transfers_active);
  }
  for (size_t i = 0; i < shards.size(); ++i) {
    const ServerTotals& s = shards[i];
    absl::StrAppend(
        out, "<tr><td>", i, "</td><td class=\"n\">", s.transfers_active,
        "</td><td><div class=\"bar load\">",
        absl::StrFormat("<div style=\"width:%.1f%%\"></div>",
                        100.0 * static_cast<double>(s.transfers_active) /
                            static_cast<double>(busiest)),
        "</div></td><td class=\"n\">", s.transfers_started,
        "</td><td class=\"n\">", Bytes(static_cast<double>(s.bytes_sent)),
        "</td></tr>\n");
  }
}

}  // namespace

std::string RenderStatusHtml(StatusView view) {
  Order(view.transfers);
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"2\">"
      "<title>tftpd: ",
      view.transfers.size(), " transfers</title><style>", kStyle,
      "</style></head><body>\n"
      "<h1>tftpd</h1><p class=\"muted\">Refreshes every 2 s. JSON: "
      "<a href=\"/transfers\">/transfers</a>, metrics: "
      "<a href=\"/metrics\">/metrics</a>.</p>\n");

  AppendTransfers(view.transfers, &out);

  AppendFailures("Last failures", "None since start.", view.failures, view.now,
                 &out);
  AppendFailures(
      "Requests whose sender never answered",
      "None since start. (Refused requests and answers no client took up "
      "show here, apart from real clients' failures: forged ones among "
      "them cost their sender nothing.)",
      view.unanswered_failures, view.now, &out);

  AppendTopFiles(view.files, &out);
  AppendShards(view.shards, &out);
  absl::StrAppend(&out, "</table>\n</body></html>\n");
  return out;
}

}  // namespace tftpd
