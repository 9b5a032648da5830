// The status page's pieces without a server: names from clients stay
// harmless in JSON and HTML, what it remembers stays bounded, and the
// transfers come oldest first.
#include "server/observability/status_page.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tftpd {
namespace {

TEST(StatusPage, NamesFromClientsStayValidJsonAndInertHtml) {
  EXPECT_EQ(HtmlText("<script>alert('x')</script>&"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;");
  EXPECT_EQ(HtmlText("a\tb"), "a?b");
}

TransferStats Record(const std::string& file, const std::string& outcome,
                     bool client_answered = true) {
  TransferStats stats;
  stats.requested_path = file;
  stats.outcome = outcome;
  stats.client_answered = client_answered;
  stats.start_time = std::chrono::system_clock::now();
  return stats;
}

TEST(StatusBoard, KeepsTheLastFailuresNewestFirst) {
  StatusBoard board(/*max_failures=*/3, /*max_files=*/8);
  board.OnTransfer(Record("ok", "completed"));
  for (int i = 0; i < 5; ++i) {
    TransferStats failed = Record(absl::StrCat("f", i), "timed_out");
    board.OnTransfer(failed);
  }
  TransferStats refused = Record("missing", "refused");
  refused.error_code = 1;
  refused.error_message = "file not found";
  board.OnTransfer(refused);
  const std::vector<StatusBoard::Failure> failures = board.failures();
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_EQ(failures[0].file, "missing");
  EXPECT_EQ(failures[0].error_code, 1);
  EXPECT_EQ(failures[0].error_message, "file not found");
  EXPECT_EQ(failures[1].file, "f4");
  EXPECT_EQ(failures[2].file, "f3");
}

// Before, 20 forged refusals pushed a real client's boot failure out of
// the last failures; now requests whose sender never answered have a list
// of their own.
TEST(StatusBoard, ForgedRefusalsDoNotPushARealFailureOut) {
  StatusBoard board(/*max_failures=*/20, /*max_files=*/8);
  board.OnTransfer(Record("grubx64.efi", "timed_out"));
  for (int i = 0; i < 1000; ++i) {
    board.OnTransfer(Record(absl::StrCat("forged-", i), "refused", false));
    board.OnTransfer(Record("kernel", "unanswered", false));
  }
  const std::vector<StatusBoard::Failure> real = board.failures();
  ASSERT_EQ(real.size(), 1u);
  EXPECT_EQ(real[0].file, "grubx64.efi");
  EXPECT_EQ(board.unanswered_failures().size(), 20u);
  StatusView view;
  view.failures = real;
  view.unanswered_failures = board.unanswered_failures();
  const std::string json = RenderStatusJson(view);
  EXPECT_TRUE(absl::StrContains(json, "\"failures\":[{")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"unanswered_failures\":[{")) << json;
  const std::string html = RenderStatusHtml(view);
  EXPECT_TRUE(absl::StrContains(html, "Requests whose sender never answered"));
}

// A name that is UTF-8 shows as its characters ("é", not "Ã©").
TEST(StatusPage, Utf8NamesShowAsTheyWereSent) {
  StatusView view;
  view.failures.push_back(StatusBoard::Failure{
      {}, "127.0.0.1:1", "caf\xc3\xa9.cfg", "timed_out", 0, ""});
  EXPECT_TRUE(absl::StrContains(RenderStatusJson(view),
                                "\"file\":\"caf\xc3\xa9.cfg\""));
}

TEST(StatusBoard, AFloodOfRefusedNamesNeitherGrowsItNorHidesTheBusiestFile) {
  StatusBoard board(/*max_failures=*/4, /*max_files=*/8);
  for (int i = 0; i < 50; ++i)
    board.OnTransfer(Record("pxelinux.0", "completed"));
  for (int i = 0; i < 10000; ++i) {
    board.OnTransfer(Record(absl::StrCat("forged-", i), "refused", false));
    // Forged requests for names that exist: their transfers' clients never
    // answer, or the first answer was an ERROR.
    board.OnTransfer(Record(absl::StrCat("forged-", i), "unanswered", false));
    board.OnTransfer(Record(absl::StrCat("forged-", i), "aborted", false));
  }
  const std::vector<StatusBoard::FileCount> top = board.top_files(100);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].name, "pxelinux.0");
  EXPECT_EQ(top[0].count, 50u);
  EXPECT_EQ(board.unanswered_failures().size(), 4u);
}

TEST(StatusBoard, ManyDistinctFilesStayInAFixedTableWithTheBusiestListed) {
  StatusBoard board(/*max_failures=*/4, /*max_files=*/8);
  // One file in every fourth transfer (more often than 1 in 8).
  for (int i = 0; i < 4000; ++i) {
    board.OnTransfer(Record(
        i % 4 == 0 ? std::string("grubx64.efi") : absl::StrCat("config-", i),
        "completed"));
  }
  const std::vector<StatusBoard::FileCount> top = board.top_files(100);
  EXPECT_EQ(top.size(), 8u);
  EXPECT_EQ(top[0].name, "grubx64.efi");
  EXPECT_GE(top[0].count, 1000u);
  EXPECT_GT(board.files_replaced(), 2000u);
}

TEST(StatusPage, ListsTransfersOldestFirstWithProgress) {
  StatusView view;
  view.now = std::chrono::system_clock::now();
  for (int i = 0; i < 3; ++i) {
    TransferSnapshot t;
    t.peer =
        *io::SocketAddress::Parse("192.0.2.1", static_cast<uint16_t>(1000 + i));
    t.requested_path = absl::StrCat("file", i);
    t.phase = "sending";
    t.answered = true;
    t.bytes_acknowledged = 250;
    t.size = 1000;
    t.age = std::chrono::seconds(i + 1);
    view.transfers.push_back(t);
  }
  view.shards.resize(2);
  view.shards[1].transfers_active = 3;
  const std::string json = RenderStatusJson(view);
  EXPECT_TRUE(absl::StrContains(json, "\"transfers_total\":3")) << json;
  EXPECT_LT(json.find("\"file2\""), json.find("\"file0\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"bytes\":250,\"size\":1000")) << json;
  const std::string html = RenderStatusHtml(view);
  EXPECT_TRUE(absl::StrContains(html, "<meta http-equiv=\"refresh\""));
  EXPECT_TRUE(absl::StrContains(html, "width:25.0%")) << html;
  EXPECT_TRUE(absl::StrContains(html, "250 B of 1000 B")) << html;
  EXPECT_LT(html.find(">file2<"), html.find(">file0<"));
}

TEST(StatusPage, ListsAtMostItsRowLimitButCountsEveryTransfer) {
  StatusView view;
  view.transfers.resize(kStatusRowsMax + 5);
  const std::string json = RenderStatusJson(view);
  EXPECT_TRUE(absl::StrContains(
      json, absl::StrCat("\"transfers_total\":", kStatusRowsMax + 5)));
  size_t rows = 0;
  for (size_t at = 0;
       (at = json.find("\"request_id\":", at)) != std::string::npos; ++at) {
    ++rows;
  }
  EXPECT_EQ(rows, kStatusRowsMax);
  EXPECT_TRUE(absl::StrContains(RenderStatusHtml(view), "and 5 more"));
}

}  // namespace
}  // namespace tftpd
