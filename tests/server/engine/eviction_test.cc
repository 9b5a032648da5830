// The placement rules' single-port half: how unlike a real client a peer
// looks (ForgeryScore), one case a row, and the sample it is weighed over.
#include "server/engine/eviction.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>

#include "gtest/gtest.h"

namespace tftpd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

io::SocketAddress Peer(uint16_t port) {
  return *io::SocketAddress::Parse("127.0.0.1", port);
}

struct Row {
  std::string name;
  // Each event at its time: a send (true) or an answer (false).
  std::vector<std::pair<milliseconds, bool>> events;
  milliseconds now;
  milliseconds score;
};

class Score : public ::testing::TestWithParam<Row> {};

TEST_P(Score, IsAsTheRowSays) {
  const Row& row = GetParam();
  Transfer t;
  const io::TimePoint start{};
  for (const auto& [at, sent] : row.events) {
    if (sent) {
      t.answers.Sent(start + at);
    } else {
      t.answers.Heard(start + at);
    }
  }
  EXPECT_EQ(ForgeryScore(t, start + row.now), row.score) << row.name;
}

INSTANTIATE_TEST_SUITE_P(
    Rows, Score,
    ::testing::Values(
        // Its response is being made: it owes nothing.
        Row{"nothing_sent_yet", {}, milliseconds(5000), milliseconds(0)},
        // Never answered: half of the time since the first send.
        Row{"never_answered",
            {{milliseconds(100), true}, {milliseconds(1100), true}},
            milliseconds(2100),
            milliseconds(1000)},
        // A real client: answers within milliseconds, waiting now.
        Row{"prompt_client",
            {{milliseconds(0), true},
             {milliseconds(4), false},
             {milliseconds(4), true},
             {milliseconds(8), false},
             {milliseconds(8), true}},
            milliseconds(10),
            milliseconds(4)},
        // A blind forger on a one-second clock, whatever was sent.
        Row{"forger_on_a_clock",
            {{milliseconds(0), true},
             {milliseconds(1000), false},
             {milliseconds(1000), true},
             {milliseconds(2000), false},
             {milliseconds(2000), true}},
            milliseconds(2001),
            milliseconds(1000)},
        // Answered fast once, then silent: its silence counts.
        Row{"fast_once_then_silent",
            {{milliseconds(0), true},
             {milliseconds(1), false},
             {milliseconds(1), true},
             {milliseconds(500), true}},
            milliseconds(30001),
            milliseconds(15000)},
        // Sends with no answer between them: timed from the first.
        Row{"retransmissions_do_not_reset_the_wait",
            {{milliseconds(0), true},
             {milliseconds(1), false},
             {milliseconds(10), true},
             {milliseconds(1010), true},
             {milliseconds(3010), true}},
            milliseconds(3500),
            milliseconds(1745)}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

// The sample is drawn from the open transfers only, and never names the
// one excepted.
TEST(Eviction, TheSampleIsOfOpenTransfersOnly) {
  TransferTable table;
  std::vector<uint32_t> open;
  for (uint16_t i = 0; i < 100; ++i) {
    const uint32_t index = table.Open(Peer(i), TransferPhase::kSending);
    if (i % 2 == 0) {
      table.End(index);
    } else {
      open.push_back(index);
    }
  }
  std::minstd_rand random(1);
  std::set<uint32_t> seen;
  for (int draw = 0; draw < 200; ++draw) {
    for (uint32_t index : table.Sample(kEvictionSample, open[0], random)) {
      EXPECT_TRUE(table[index].live());
      EXPECT_NE(index, open[0]);
      seen.insert(index);
    }
  }
  EXPECT_EQ(seen.size(), open.size() - 1);
}

// Of a table of forgers on a one-second clock and a few prompt clients,
// the choice is a forger, draw after draw: also while the prompt clients
// wait out a lost packet, silent for 1.5 s (in flood_test, 1 of 1,000 real
// clients was evicted so when silence counted in full).
TEST(Eviction, AForgerIsChosenBeforeAPromptClient) {
  for (const milliseconds silent : {milliseconds(500), milliseconds(1500)}) {
    TransferTable table;
    const io::TimePoint start{};
    std::vector<uint32_t> prompt;
    for (uint16_t i = 0; i < 110; ++i) {
      const uint32_t index = table.Open(Peer(i), TransferPhase::kSending);
      Transfer& t = table[index];
      const bool forger = i % 11 != 0;
      for (int k = 0; k < 5; ++k) {
        const io::TimePoint sent = start + seconds(k);
        t.answers.Sent(sent);
        t.answers.Heard(forger ? sent + seconds(1) : sent + milliseconds(3));
      }
      t.answers.Sent(start + seconds(5));
      if (!forger) prompt.push_back(index);
    }
    std::minstd_rand random(7);
    for (int draw = 0; draw < 1000; ++draw) {
      const std::optional<uint32_t> chosen = ChooseSinglePortEviction(
          table, std::nullopt, start + seconds(5) + silent, random);
      ASSERT_TRUE(chosen.has_value());
      EXPECT_EQ(std::count(prompt.begin(), prompt.end(), *chosen), 0)
          << silent.count() << " ms";
    }
  }
}

}  // namespace
}  // namespace tftpd
