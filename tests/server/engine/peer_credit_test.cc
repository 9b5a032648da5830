// The credit rules, one decision a row: what a peer in each standing may be
// sent, what a datagram earns, and when a peer is proven (never on the
// service port).
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
  enum Kind { kSend, kResend, kDatagram, kWholeWindow, kRepeatedRequest };
  Kind kind;
  size_t bytes = 0;  // kSend, kResend: the size asked for.
  // kSend, kResend: the verdict expected (the bytes are spent unless held);
  // kRepeatedRequest: kSend when it earns a send, kHold when not.
  Verdict verdict = Verdict::kSend;
};

struct Row {
  std::string name;
  bool shared_port;
  size_t window_bytes;  // The read's window as granted (0: none yet).
  std::vector<Step> steps;
  PeerStanding standing_after;
};

class CreditRules : public ::testing::TestWithParam<Row> {};

TEST_P(CreditRules, DecideAsTheRowSays) {
  const Row& row = GetParam();
  PeerCredit credit(row.shared_port);
  credit.SetWindowBytes(row.window_bytes);
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
      case Step::kRepeatedRequest:
        EXPECT_EQ(credit.OnRepeatedRequest(), step.verdict == Verdict::kSend)
            << row.name << ", step " << i;
        break;
    }
  }
  EXPECT_EQ(credit.standing(), row.standing_after) << row.name;
}

const Step Send(size_t bytes, Verdict v = Verdict::kSend) {
  return {Step::kSend, bytes, v};
}
const Step Resend(size_t bytes, Verdict v) { return {Step::kResend, bytes, v}; }
const Step Datagram() { return {Step::kDatagram}; }
const Step WholeWindow() { return {Step::kWholeWindow}; }
const Step Repeat(bool earns) {
  return {Step::kRepeatedRequest, 0, earns ? Verdict::kSend : Verdict::kHold};
}

INSTANTIATE_TEST_SUITE_P(
    Rows, CreditRules,
    ::testing::Values(
        // Unanswered: a first answer, and a repeat from the address's budget.
        Row{"first_answer_and_one_repeat",
            false,
            0,
            {Send(kBlock512), Resend(kBlock512, Verdict::kSendIfAddressAllows),
             Resend(kBlock512, Verdict::kHold)},
            PeerStanding::kUnanswered},
        Row{"a_large_first_answer_is_held",
            false,
            0,
            {Send(kBlock65464, Verdict::kHold)},
            PeerStanding::kUnanswered},
        // A repeated request earns one more send once both are spent.
        Row{"a_repeated_request_earns_one_send",
            false,
            0,
            {Repeat(false), Send(kBlock512),
             Resend(kBlock512, Verdict::kSendIfAddressAllows), Repeat(true),
             Resend(kBlock512, Verdict::kSendIfAddressAllows),
             Resend(kBlock512, Verdict::kHold)},
            PeerStanding::kUnanswered},
        // Heard: each datagram earns 32 KiB afresh, not more...
        Row{"a_datagram_earns_32_KiB_afresh",
            false,
            4 * kBlock1468,
            {Datagram(), Send(4 * kBlock1468),
             Resend(4 * kBlock1468, Verdict::kSend),
             Resend(4 * kBlock1468, Verdict::kSend),
             Resend(4 * kBlock1468, Verdict::kSend),
             Resend(4 * kBlock1468, Verdict::kSend),
             Resend(4 * kBlock1468, Verdict::kHold), Datagram(),
             Resend(4 * kBlock1468, Verdict::kSend)},
            PeerStanding::kHeard},
        // ...or two windows where a window is larger: sent, and once again.
        Row{"or_two_windows",
            false,
            4 * kBlock65464,
            {Datagram(), Send(4 * kBlock65464),
             Resend(4 * kBlock65464, Verdict::kSend),
             Resend(4 * kBlock65464, Verdict::kHold)},
            PeerStanding::kHeard},
        // A datagram that acknowledges no whole window proves nothing.
        Row{"duplicates_prove_nothing",
            false,
            4 * kBlock1468,
            {Datagram(), Datagram(), Datagram(), Datagram(), Datagram()},
            PeerStanding::kHeard},
        // Whole windows acknowledged kProofRounds times prove the peer:
        // its sends are no longer counted.
        Row{"whole_windows_prove",
            false,
            4 * kBlock1468,
            {Datagram(), WholeWindow(), WholeWindow(), Send(100000),
             Resend(100000, Verdict::kSend)},
            PeerStanding::kProven},
        // The service port: whole windows acknowledged prove nothing.
        Row{"single_port_is_never_proven",
            true,
            11 * kBlock1468,
            {Datagram(), WholeWindow(), WholeWindow(), WholeWindow(),
             Send(kDatagramCredit), Send(1, Verdict::kHold)},
            PeerStanding::kHeard}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

}  // namespace
}  // namespace tftpd
