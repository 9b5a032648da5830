// The credit rules, one decision a row: what a peer in each standing may be
// sent, what a datagram earns, how the window grows, and when a peer is
// proven (never on the service port).
#include "server/engine/peer_credit.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tftpd {
namespace {

using Verdict = PeerCredit::Verdict;

constexpr size_t kBlock512 = 4 + 512;
constexpr size_t kBlock1468 = 4 + 1468;
constexpr size_t kBlock65464 = 4 + 65464;

// One step of a peer's life, and what is checked after it.
struct Step {
  enum Kind {
    kSend,
    kResend,
    kDatagram,
    kWholeWindow,
    kRepeatedRequest,
    kTimeout
  };
  Kind kind;
  size_t bytes = 0;  // kSend, kResend: the size asked for.
  // kSend, kResend: the verdict expected (the bytes are spent unless held);
  // kRepeatedRequest: kSend when it earns a send, kHold when not.
  Verdict verdict = Verdict::kSend;
};

struct Row {
  std::string name;
  bool shared_port;
  size_t packet_bytes;
  uint16_t negotiated_window;
  std::vector<Step> steps;
  uint16_t window_after;
  PeerStanding standing_after;
};

class CreditRules : public ::testing::TestWithParam<Row> {};

TEST_P(CreditRules, DecideAsTheRowSays) {
  const Row& row = GetParam();
  PeerCredit credit(row.shared_port);
  credit.SetWindowShape(row.packet_bytes, row.negotiated_window);
  for (size_t i = 0; i < row.steps.size(); ++i) {
    const Step& step = row.steps[i];
    switch (step.kind) {
      case Step::kSend:
      case Step::kResend: {
        const Verdict verdict =
            credit.Check(step.bytes, step.kind == Step::kResend);
        EXPECT_EQ(verdict, step.verdict) << row.name << ", step " << i;
        if (verdict != Verdict::kHold) credit.Spent(step.bytes);
        break;
      }
      case Step::kDatagram:
        credit.OnDatagram(/*whole_window=*/false);
        break;
      case Step::kWholeWindow:
        credit.OnDatagram(/*whole_window=*/true);
        break;
      case Step::kTimeout:
        credit.OnTimeout();
        break;
      case Step::kRepeatedRequest:
        EXPECT_EQ(credit.OnRepeatedRequest(), step.verdict == Verdict::kSend)
            << row.name << ", step " << i;
        break;
    }
  }
  EXPECT_EQ(credit.window_blocks(), row.window_after) << row.name;
  EXPECT_EQ(credit.standing(), row.standing_after) << row.name;
}

const Step Send(size_t bytes, Verdict v = Verdict::kSend) {
  return {Step::kSend, bytes, v};
}
const Step Resend(size_t bytes, Verdict v) { return {Step::kResend, bytes, v}; }
const Step Datagram() { return {Step::kDatagram}; }
const Step WholeWindow() { return {Step::kWholeWindow}; }
const Step Timeout() { return {Step::kTimeout}; }
const Step Repeat(bool earns) {
  return {Step::kRepeatedRequest, 0, earns ? Verdict::kSend : Verdict::kHold};
}

INSTANTIATE_TEST_SUITE_P(
    Rows, CreditRules,
    ::testing::Values(
        // Unanswered: a first answer, and a repeat from the address's budget.
        Row{"first_answer_and_one_repeat", false, kBlock512, 1,
            {Send(kBlock512), Resend(kBlock512, Verdict::kSendIfAddressAllows),
             Resend(kBlock512, Verdict::kHold)},
            1, PeerStanding::kUnanswered},
        Row{"a_large_first_answer_is_held", false, kBlock65464, 1,
            {Send(kBlock65464, Verdict::kHold)}, 1, PeerStanding::kUnanswered},
        // A repeated request earns one more send once both are spent.
        Row{"a_repeated_request_earns_one_send", false, kBlock512, 1,
            {Repeat(false), Send(kBlock512),
             Resend(kBlock512, Verdict::kSendIfAddressAllows), Repeat(true),
             Resend(kBlock512, Verdict::kSendIfAddressAllows),
             Resend(kBlock512, Verdict::kHold)},
            1, PeerStanding::kUnanswered},
        // Heard: the window starts within 16 KiB, or at one block.
        Row{"heard_window_starts_within_16_KiB", false, kBlock1468, 64,
            {Datagram()}, 11, PeerStanding::kHeard},
        Row{"heard_window_is_one_block_at_least", false, kBlock65464, 64,
            {Datagram(), Send(kBlock65464), Resend(kBlock65464, Verdict::kSend),
             Resend(kBlock65464, Verdict::kHold)},
            1, PeerStanding::kHeard},
        // A datagram that acknowledges nothing new does not grow it.
        Row{"duplicates_do_not_grow_the_window", false, kBlock1468, 64,
            {Datagram(), Datagram(), Datagram(), Datagram()}, 11,
            PeerStanding::kHeard},
        // It doubles per whole window, up to the negotiated size; then
        // kProofRounds more whole windows prove the peer.
        Row{"whole_windows_grow_it_then_prove", false, kBlock1468, 64,
            {Datagram(), WholeWindow(), WholeWindow(), WholeWindow(),
             WholeWindow()},
            64, PeerStanding::kHeard},
        Row{"proven_after_the_rounds", false, kBlock1468, 64,
            {Datagram(), WholeWindow(), WholeWindow(), WholeWindow(),
             WholeWindow(), WholeWindow(), Send(100000), Resend(100000, Verdict::kSend)},
            64, PeerStanding::kProven},
        Row{"lock_step_is_proven_after_the_rounds", false, kBlock512, 1,
            {Datagram(), WholeWindow(), WholeWindow()}, 1,
            PeerStanding::kProven},
        // A timeout starts the window small again, proven or not; whole
        // windows grow it back.
        Row{"a_timeout_starts_the_window_small_again", false, kBlock1468, 64,
            {Datagram(), WholeWindow(), WholeWindow(), WholeWindow(),
             WholeWindow(), WholeWindow(), Timeout()},
            11, PeerStanding::kProven},
        Row{"whole_windows_grow_it_back", false, kBlock1468, 64,
            {Datagram(), WholeWindow(), Timeout(), WholeWindow(), WholeWindow()},
            44, PeerStanding::kHeard},
        // Each datagram earns 32 KiB (or two windows, if more) afresh.
        Row{"a_datagram_earns_32_KiB_afresh", false, kBlock1468, 4,
            {Datagram(), Send(4 * kBlock1468), Resend(4 * kBlock1468, Verdict::kSend),
             Resend(4 * kBlock1468, Verdict::kSend), Resend(4 * kBlock1468, Verdict::kSend),
             Resend(4 * kBlock1468, Verdict::kSend),
             Resend(4 * kBlock1468, Verdict::kHold), Datagram(),
             Resend(4 * kBlock1468, Verdict::kSend)},
            4, PeerStanding::kHeard},
        // The service port: whole windows acknowledged prove nothing.
        Row{"single_port_is_never_proven", true, kBlock1468, 11,
            {Datagram(), WholeWindow(), WholeWindow(), WholeWindow(),
             WholeWindow(), WholeWindow(), WholeWindow(),
             Send(kDatagramCredit), Send(1, Verdict::kHold)},
            11, PeerStanding::kHeard}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace tftpd
