#include "protocol/options.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "protocol/packet.h"

namespace tftp {
namespace {

// Keeps option strings alive for the Request's views.
struct RequestBuilder {
  std::vector<std::pair<std::string, std::string>> storage;
  Request request;

  explicit RequestBuilder(Opcode opcode,
                          std::vector<std::pair<std::string, std::string>> opts)
      : storage(std::move(opts)) {
    request.opcode = opcode;
    request.filename = "file";
    for (const auto& [name, value] : storage) {
      request.options.items[request.options.count++] = RawOption{name, value};
    }
  }
};

NegotiatedOptions Negotiate(
    std::vector<std::pair<std::string, std::string>> opts,
    OptionLimits limits = {}, std::optional<uint64_t> size = 1000,
    Opcode opcode = Opcode::kRrq) {
  RequestBuilder b(opcode, std::move(opts));
  NegotiatedOptions out;
  EXPECT_TRUE(NegotiateOptions(b.request, limits, size, &out).ok());
  return out;
}

std::vector<std::pair<std::string, std::string>> OackOf(
    const NegotiatedOptions& n) {
  uint8_t buf[kMaxNegotiatedOackSize];
  const size_t size = EncodeNegotiatedOack(buf, n);
  std::vector<std::pair<std::string, std::string>> out;
  if (size == 0) return out;
  OptionList list;
  EXPECT_TRUE(ParseOack(absl::MakeConstSpan(buf, size), &list).ok());
  for (const RawOption& o : list.view()) {
    out.emplace_back(std::string(o.name), std::string(o.value));
  }
  return out;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(Negotiate, NoOptionsMeansNoOack) {
  NegotiatedOptions n = Negotiate({});
  EXPECT_FALSE(n.has_oack());
  EXPECT_EQ(n.blksize, 512);
  EXPECT_EQ(n.windowsize, 1);
  EXPECT_EQ(OackOf(n), Pairs{});
}

TEST(Negotiate, BlksizeEdges) {
  EXPECT_FALSE(Negotiate({{"blksize", "7"}}).has_oack());
  EXPECT_EQ(Negotiate({{"blksize", "8"}}).blksize, 8);
  EXPECT_EQ(Negotiate({{"blksize", "65464"}}).blksize, 65464);
  NegotiatedOptions too_big = Negotiate({{"blksize", "65465"}});
  EXPECT_FALSE(too_big.has_oack());
  EXPECT_EQ(too_big.blksize, 512);
  EXPECT_FALSE(Negotiate({{"blksize", "abc"}}).has_oack());
  EXPECT_FALSE(Negotiate({{"blksize", ""}}).has_oack());
  EXPECT_FALSE(Negotiate({{"blksize", "-1"}}).has_oack());
}

TEST(Negotiate, BlksizeIsClampedToTheServerMaximumAndNeverRaised) {
  OptionLimits limits;
  limits.max_blksize = 1468;
  NegotiatedOptions n = Negotiate({{"blksize", "8192"}}, limits);
  EXPECT_EQ(n.blksize, 1468);
  EXPECT_EQ(OackOf(n), (Pairs{{"blksize", "1468"}}));
  EXPECT_EQ(Negotiate({{"blksize", "1024"}}, limits).blksize, 1024);
}

TEST(Negotiate, TimeoutEdgesAreEchoedExactly) {
  EXPECT_FALSE(Negotiate({{"timeout", "0"}}).has_oack());
  EXPECT_EQ(OackOf(Negotiate({{"timeout", "1"}})), (Pairs{{"timeout", "1"}}));
  EXPECT_EQ(OackOf(Negotiate({{"timeout", "5"}})), (Pairs{{"timeout", "5"}}));
  EXPECT_EQ(Negotiate({{"timeout", "255"}}).timeout_seconds, 255);
  EXPECT_FALSE(Negotiate({{"timeout", "256"}}).has_oack());
}

TEST(Negotiate, WindowsizeEdgesAndClamp) {
  EXPECT_FALSE(Negotiate({{"windowsize", "0"}}).has_oack());
  EXPECT_EQ(Negotiate({{"windowsize", "1"}}).windowsize, 1);
  // In the RFC range but beyond what keeps late ACKs from aliasing: lowered.
  EXPECT_EQ(Negotiate({{"windowsize", "65535"}}).windowsize,
            kMaxGrantedWindowSize);
  EXPECT_FALSE(Negotiate({{"windowsize", "65536"}}).has_oack());
  OptionLimits limits;
  limits.max_windowsize = 64;
  NegotiatedOptions n = Negotiate({{"windowsize", "65535"}}, limits);
  EXPECT_EQ(n.windowsize, 64);
  EXPECT_EQ(OackOf(n), (Pairs{{"windowsize", "64"}}));
}

TEST(Negotiate, TsizeForReadsIsTheRealSizeOrOmitted) {
  EXPECT_EQ(OackOf(Negotiate({{"tsize", "0"}}, {}, 123456)),
            (Pairs{{"tsize", "123456"}}));
  NegotiatedOptions unknown = Negotiate({{"tsize", "0"}}, {}, std::nullopt);
  EXPECT_FALSE(unknown.has_oack());
  EXPECT_FALSE(unknown.tsize.has_value());
  EXPECT_EQ(OackOf(Negotiate({{"tsize", "0"}}, {}, 0)),
            (Pairs{{"tsize", "0"}}));
}

TEST(Negotiate, TsizeForWritesIsCheckedAgainstTheLimit) {
  OptionLimits limits;
  limits.max_upload_size = 1000;
  NegotiatedOptions ok =
      Negotiate({{"tsize", "1000"}}, limits, std::nullopt, Opcode::kWrq);
  EXPECT_EQ(ok.tsize, 1000u);
  EXPECT_EQ(OackOf(ok), (Pairs{{"tsize", "1000"}}));

  RequestBuilder b(Opcode::kWrq, {{"tsize", "1001"}});
  NegotiatedOptions out;
  ProtocolStatus s = NegotiateOptions(b.request, limits, std::nullopt, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kDiskFull);
}

TEST(Negotiate, NamesAreCaseInsensitiveAndAnsweredInLowerCase) {
  NegotiatedOptions n =
      Negotiate({{"BLKSIZE", "1428"}, {"WindowSize", "4"}, {"TSize", "0"}});
  EXPECT_EQ(n.blksize, 1428);
  EXPECT_EQ(n.windowsize, 4);
  EXPECT_EQ(
      OackOf(n),
      (Pairs{{"blksize", "1428"}, {"windowsize", "4"}, {"tsize", "1000"}}));
}

TEST(Negotiate, OackKeepsTheClientsOrderAndOnlyWhatItAsked) {
  NegotiatedOptions n = Negotiate({{"tsize", "0"},
                                   {"multicast", ""},
                                   {"timeout", "3"},
                                   {"blksize", "1468"}});
  EXPECT_EQ(OackOf(n),
            (Pairs{{"tsize", "1000"}, {"timeout", "3"}, {"blksize", "1468"}}));
  // An option the client did not send never appears, even with limits set.
  OptionLimits limits;
  limits.max_windowsize = 8;
  EXPECT_EQ(OackOf(Negotiate({{"blksize", "1024"}}, limits)),
            (Pairs{{"blksize", "1024"}}));
}

TEST(Negotiate, UnknownOptionsAreIgnored) {
  EXPECT_FALSE(Negotiate({{"rollover", "0"}, {"utimeout", "5000"}}).has_oack());
}

TEST(ParseDecimal, IsStrict) {
  EXPECT_EQ(ParseDecimal("0"), 0u);
  EXPECT_EQ(ParseDecimal("0042"), 42u);
  EXPECT_EQ(ParseDecimal("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseDecimal("18446744073709551616").has_value());
  EXPECT_FALSE(ParseDecimal("").has_value());
  EXPECT_FALSE(ParseDecimal("+1").has_value());
  EXPECT_FALSE(ParseDecimal(" 1").has_value());
  EXPECT_FALSE(ParseDecimal("1 ").has_value());
  EXPECT_FALSE(ParseDecimal("0x10").has_value());
}

// A read's window is granted within max_window_bytes (headers included,
// one block at least), whichever order blksize and windowsize come in; a
// write's is not (the server only acknowledges).
TEST(Options, AReadsWindowIsGrantedWithinItsByteBound) {
  OptionLimits limits;
  limits.max_window_bytes = 256 * 1024;
  EXPECT_EQ(Negotiate({{"windowsize", "64"}, {"blksize", "65464"}}, limits)
                .windowsize,
            4);
  EXPECT_EQ(
      Negotiate({{"blksize", "1468"}, {"windowsize", "64"}}, limits).windowsize,
      64);
  EXPECT_EQ(
      Negotiate({{"blksize", "8192"}, {"windowsize", "64"}}, limits).windowsize,
      31);
  limits.max_window_bytes = 1000;
  EXPECT_EQ(
      Negotiate({{"blksize", "8192"}, {"windowsize", "8"}}, limits).windowsize,
      1);
  EXPECT_EQ(Negotiate({{"blksize", "8192"}, {"windowsize", "8"}}, limits,
                      std::nullopt, Opcode::kWrq)
                .windowsize,
            8);
}

}  // namespace
}  // namespace tftp
