#include "protocol/netascii.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/protocol/simulated_link.h"

namespace tftp {
namespace {

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// Encodes `in` through an output window of `chunk` bytes at a time.
std::string EncodeInChunks(const std::string& in, size_t chunk) {
  NetasciiEncoder encoder;
  std::string out;
  std::vector<uint8_t> buf(chunk);
  absl::Span<const uint8_t> rest = Bytes(in);
  while (!rest.empty() || encoder.has_pending()) {
    auto [consumed, produced] = encoder.Encode(rest, absl::MakeSpan(buf));
    rest.remove_prefix(consumed);
    out.append(reinterpret_cast<const char*>(buf.data()), produced);
  }
  return out;
}

std::string DecodeInChunks(const std::string& in, size_t chunk) {
  NetasciiDecoder decoder;
  std::string out;
  std::vector<uint8_t> buf(chunk + 1);
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    const std::string piece = in.substr(pos, chunk);
    const size_t n = decoder.Decode(Bytes(piece), buf.data());
    out.append(reinterpret_cast<const char*>(buf.data()), n);
  }
  const size_t n = decoder.Finish(buf.data());
  out.append(reinterpret_cast<const char*>(buf.data()), n);
  return out;
}

TEST(Netascii, EncodesLineEndsAndBareCarriageReturns) {
  const std::string in = "a\nb\rc\r\n";
  const std::string expected = std::string("a\r\nb\r\0c\r\0\r\n", 11);
  EXPECT_EQ(EncodeInChunks(in, 512), expected);
  EXPECT_EQ(NetasciiEncodedSize(Bytes(in)), expected.size());
}

TEST(Netascii, DecodesCrLfAndCrNul) {
  EXPECT_EQ(DecodeInChunks(std::string("x\r\ny\r\0z", 7), 512), "x\ny\rz");
  // A lax sender's bare CR followed by a letter is kept.
  EXPECT_EQ(DecodeInChunks("a\rb", 512), "a\rb");
  // A CR at the very end is flushed by Finish.
  EXPECT_EQ(DecodeInChunks("end\r", 512), "end\r");
}

TEST(Netascii, RoundTripsAcrossEveryPacketBoundary) {
  std::string in = ::tftp::testing::PatternContent(3000);
  in += "\r\n\n\r\r";
  const std::string encoded = EncodeInChunks(in, 512);
  EXPECT_EQ(encoded.size(), NetasciiEncodedSize(Bytes(in)));
  for (size_t chunk : {1, 2, 3, 7, 511, 512, 513}) {
    EXPECT_EQ(EncodeInChunks(in, chunk), encoded) << chunk;
    EXPECT_EQ(DecodeInChunks(encoded, chunk), in) << chunk;
  }
}

TEST(Netascii, DecodingSinkPassesDecodedBytesOn) {
  ::tftp::testing::MemorySink inner;
  NetasciiDecodingSink sink(&inner);
  const std::string wire = std::string("l1\r\nl2\r", 7);
  ASSERT_TRUE(sink.Write(0, Bytes(wire)).ok());
  const std::string rest = std::string("\0x", 2);
  ASSERT_TRUE(sink.Write(7, Bytes(rest)).ok());
  ASSERT_TRUE(sink.Finish(9).ok());
  EXPECT_EQ(inner.bytes, "l1\nl2\rx");
  EXPECT_EQ(inner.finished_total, 7u);
}

}  // namespace
}  // namespace tftp
