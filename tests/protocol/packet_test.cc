#include "protocol/packet.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tftp {
namespace {

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()),
                             s.size());
}

// Builds a datagram from an opcode and NUL-terminated pieces.
std::string Packet(uint16_t opcode, std::vector<std::string> strings) {
  std::string p;
  p.push_back(static_cast<char>(opcode >> 8));
  p.push_back(static_cast<char>(opcode & 0xff));
  for (const std::string& s : strings) {
    p += s;
    p.push_back('\0');
  }
  return p;
}

ProtocolStatus ParseRequestString(const std::string& datagram,
                                  Request* out = nullptr) {
  Request scratch;
  return ParseRequest(Bytes(datagram), out != nullptr ? out : &scratch);
}

TEST(PeekOpcode, RecognizesTheSixOpcodes) {
  for (uint16_t op = 1; op <= 6; ++op) {
    const std::string p = Packet(op, {});
    ASSERT_TRUE(PeekOpcode(Bytes(p)).has_value());
    EXPECT_EQ(static_cast<uint16_t>(*PeekOpcode(Bytes(p))), op);
  }
  EXPECT_FALSE(PeekOpcode(Bytes(Packet(0, {}))).has_value());
  EXPECT_FALSE(PeekOpcode(Bytes(Packet(7, {}))).has_value());
  EXPECT_FALSE(PeekOpcode(Bytes(Packet(0xffff, {}))).has_value());
}

TEST(ParseRequest, ParsesFilenameModeAndOptions) {
  Request r;
  const std::string p =
      Packet(1, {"pxelinux.0", "OcTeT", "blksize", "1468", "TSIZE", "0"});
  ASSERT_TRUE(ParseRequestString(p, &r).ok());
  EXPECT_EQ(r.opcode, Opcode::kRrq);
  EXPECT_EQ(r.filename, "pxelinux.0");
  EXPECT_EQ(r.mode, TransferMode::kOctet);
  ASSERT_EQ(r.options.count, 2u);
  EXPECT_EQ(r.options.items[0].name, "blksize");
  EXPECT_EQ(r.options.items[0].value, "1468");
  EXPECT_EQ(r.options.items[1].name, "TSIZE");
  EXPECT_EQ(r.options.items[1].value, "0");
}

TEST(ParseRequest, ParsesWriteRequestInNetascii) {
  Request r;
  ASSERT_TRUE(
      ParseRequestString(Packet(2, {"cfg/switch1", "NETASCII"}), &r).ok());
  EXPECT_EQ(r.opcode, Opcode::kWrq);
  EXPECT_EQ(r.mode, TransferMode::kNetascii);
  EXPECT_EQ(r.options.count, 0u);
}

TEST(ParseRequest, DatagramsOfZeroToThreeBytesAreRefused) {
  for (const std::string& p :
       {std::string(), std::string("\x00", 1), std::string("\x00\x01", 2),
        std::string("\x00\x01x", 3)}) {
    ProtocolStatus s = ParseRequestString(p);
    EXPECT_FALSE(s.ok()) << p.size();
    EXPECT_EQ(s.code, ErrorCode::kIllegalOperation);
  }
}

TEST(ParseRequest, UnknownOpcodeIsRefused) {
  ProtocolStatus s = ParseRequestString(Packet(9, {"f", "octet"}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kIllegalOperation);
  EXPECT_FALSE(ParseRequestString(Packet(3, {"f", "octet"})).ok());
}

TEST(ParseRequest, MissingTerminatorsAreRefused) {
  std::string no_filename_nul = Packet(1, {});
  no_filename_nul += "file";
  EXPECT_FALSE(ParseRequestString(no_filename_nul).ok());
  std::string no_mode_nul = Packet(1, {"file"});
  no_mode_nul += "octet";
  EXPECT_FALSE(ParseRequestString(no_mode_nul).ok());
  std::string no_value_nul = Packet(1, {"file", "octet", "blksize"});
  no_value_nul += "1024";
  ProtocolStatus s = ParseRequestString(no_value_nul);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kOptionRefused);
  std::string no_name_nul = Packet(1, {"file", "octet"});
  no_name_nul += "blksize";
  EXPECT_FALSE(ParseRequestString(no_name_nul).ok());
}

TEST(ParseRequest, EmptyFilenameIsRefused) {
  ProtocolStatus s = ParseRequestString(Packet(1, {"", "octet"}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kIllegalOperation);
}

TEST(ParseRequest, UnknownAndMailModesAreRefused) {
  ProtocolStatus s = ParseRequestString(Packet(1, {"f", "binary"}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kIllegalOperation);
  EXPECT_FALSE(ParseRequestString(Packet(1, {"f", "mail"})).ok());
  EXPECT_FALSE(ParseRequestString(Packet(1, {"f", ""})).ok());
}

TEST(ParseRequest, AnUnsupportedModeIsRefusedWithTheRestParsed) {
  // For a handler that answers such requests itself (fbtftp's programs).
  Request r;  // Views into `packet`.
  const std::string packet = Packet(1, {"f", "MAIL", "blksize", "1024"});
  ProtocolStatus s = ParseRequestString(packet, &r);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kIllegalOperation);
  EXPECT_EQ(r.mode, TransferMode::kUnsupported);
  EXPECT_EQ(r.mode_name, "MAIL");
  EXPECT_EQ(r.filename, "f");
  EXPECT_EQ(r.options.count, 1u);
  // Malformed besides: the mode is not its only fault.
  Request malformed;
  EXPECT_FALSE(
      ParseRequestString(Packet(1, {"f", "mail", "blksize"}), &malformed).ok());
  EXPECT_NE(malformed.mode, TransferMode::kUnsupported);
}

TEST(ParseRequest, OptionWithoutValueIsRefused) {
  ProtocolStatus s = ParseRequestString(Packet(1, {"f", "octet", "blksize"}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kOptionRefused);
}

TEST(ParseRequest, DuplicateOptionIsRefusedWhateverTheCase) {
  ProtocolStatus s = ParseRequestString(
      Packet(1, {"f", "octet", "blksize", "512", "BlkSize", "1024"}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kOptionRefused);
}

TEST(ParseRequest, OversizedFieldsAreRefused) {
  EXPECT_TRUE(ParseRequestString(
                  Packet(1, {std::string(kMaxFilenameLength, 'a'), "octet"}))
                  .ok());
  ProtocolStatus s = ParseRequestString(
      Packet(1, {std::string(kMaxFilenameLength + 1, 'a'), "octet"}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kAccessViolation);
  EXPECT_FALSE(ParseRequestString(
                   Packet(1, {"f", "octet",
                              std::string(kMaxOptionNameLength + 1, 'x'), "1"}))
                   .ok());
  EXPECT_FALSE(ParseRequestString(
                   Packet(1, {"f", "octet", "x",
                              std::string(kMaxOptionValueLength + 1, '1')}))
                   .ok());
  std::vector<std::string> many = {"f", "octet"};
  for (size_t i = 0; i <= kMaxOptions; ++i) {
    many.push_back("opt" + std::to_string(i));
    many.push_back("1");
  }
  ProtocolStatus too_many = ParseRequestString(Packet(1, many));
  EXPECT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.code, ErrorCode::kOptionRefused);
}

TEST(ParseRequest, NonPrintableFieldsAreRefused) {
  ProtocolStatus s = ParseRequestString(Packet(1, {"a\x01"
                                                   "b",
                                                   "octet"}));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kAccessViolation);
  EXPECT_FALSE(ParseRequestString(Packet(1, {"a\x7f", "octet"})).ok());
  EXPECT_FALSE(
      ParseRequestString(Packet(1, {"f", "octet", "blk\x80", "1"})).ok());
  EXPECT_FALSE(
      ParseRequestString(Packet(1, {"f", "octet", "blksize", "1\t"})).ok());
}

TEST(ParseRequest, TrailingGarbageIsRefusedButNulPaddingIsAccepted) {
  std::string garbage = Packet(1, {"f", "octet"});
  garbage += "xyz";
  EXPECT_FALSE(ParseRequestString(garbage).ok());
  std::string padded = Packet(1, {"f", "octet", "blksize", "1024"});
  padded += std::string(7, '\0');
  Request r;
  ASSERT_TRUE(ParseRequestString(padded, &r).ok());
  EXPECT_EQ(r.options.count, 1u);
}

TEST(ParseRequest, EmptyOptionValueIsParsed) {
  // RFC 2090's multicast option has an empty value.
  Request r;
  ASSERT_TRUE(
      ParseRequestString(Packet(1, {"f", "octet", "multicast", ""}), &r).ok());
  EXPECT_EQ(r.options.items[0].value, "");
}

TEST(ParseData, ParsesBlockAndPayload) {
  const uint8_t p[] = {0, 3, 0x12, 0x34, 'a', 'b'};
  DataPacket d;
  ASSERT_TRUE(ParseData(p, &d).ok());
  EXPECT_EQ(d.block, 0x1234);
  EXPECT_EQ(d.payload.size(), 2u);
  const uint8_t empty[] = {0, 3, 0, 1};
  ASSERT_TRUE(ParseData(empty, &d).ok());
  EXPECT_TRUE(d.payload.empty());
  const uint8_t truncated[] = {0, 3, 0};
  EXPECT_FALSE(ParseData(truncated, &d).ok());
  EXPECT_FALSE(ParseData(absl::MakeConstSpan(truncated, 0), &d).ok());
}

TEST(ParseAck, ExactlyFourBytes) {
  AckPacket a;
  const uint8_t ok[] = {0, 4, 0xff, 0xfe};
  ASSERT_TRUE(ParseAck(ok, &a).ok());
  EXPECT_EQ(a.block, 0xfffe);
  const uint8_t short_ack[] = {0, 4, 0};
  EXPECT_FALSE(ParseAck(short_ack, &a).ok());
  const uint8_t long_ack[] = {0, 4, 0, 1, 0};
  ProtocolStatus s = ParseAck(long_ack, &a);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code, ErrorCode::kIllegalOperation);
  const uint8_t data[] = {0, 3, 0, 1};
  EXPECT_FALSE(ParseAck(data, &a).ok());
}

TEST(ParseError, NeedsTerminatedMessage) {
  ErrorPacket e;
  const std::string ok =
      Packet(5, {}) + std::string("\x00\x08", 2) + std::string("no\0", 3);
  ASSERT_TRUE(ParseError(Bytes(ok), &e).ok());
  EXPECT_EQ(e.code, 8);
  EXPECT_EQ(e.message, "no");
  const std::string unterminated =
      Packet(5, {}) + std::string("\x00\x01", 2) + "oops";
  EXPECT_FALSE(ParseError(Bytes(unterminated), &e).ok());
  const std::string garbage = ok + "x";
  EXPECT_FALSE(ParseError(Bytes(garbage), &e).ok());
  const std::string truncated = Packet(5, {}) + std::string("\x00", 1);
  EXPECT_FALSE(ParseError(Bytes(truncated), &e).ok());
}

TEST(ParseOack, ParsesOptions) {
  OptionList options;
  const std::string oack = Packet(6, {"blksize", "1468", "tsize", "99"});
  ASSERT_TRUE(ParseOack(Bytes(oack), &options).ok());
  ASSERT_EQ(options.count, 2u);
  EXPECT_EQ(options.items[1].value, "99");
  EXPECT_FALSE(ParseOack(Bytes(Packet(6, {"blksize"})), &options).ok());
}

TEST(Encode, RoundTripsEveryPacketType) {
  std::vector<uint8_t> buf(600);
  const RawOption opts[] = {{"blksize", "1428"}, {"windowsize", "4"}};
  size_t n = EncodeRequest(absl::MakeSpan(buf), Opcode::kRrq, "boot/initrd",
                           TransferMode::kNetascii, opts);
  ASSERT_GT(n, 0u);
  Request r;
  ASSERT_TRUE(ParseRequest(absl::MakeConstSpan(buf.data(), n), &r).ok());
  EXPECT_EQ(r.filename, "boot/initrd");
  EXPECT_EQ(r.mode, TransferMode::kNetascii);
  ASSERT_EQ(r.options.count, 2u);
  EXPECT_EQ(r.options.items[1].value, "4");

  const uint8_t payload[] = {1, 2, 3};
  n = EncodeData(absl::MakeSpan(buf), 65535, payload);
  ASSERT_EQ(n, 7u);
  DataPacket d;
  ASSERT_TRUE(ParseData(absl::MakeConstSpan(buf.data(), n), &d).ok());
  EXPECT_EQ(d.block, 65535);
  EXPECT_EQ(d.payload[2], 3);

  n = EncodeAck(absl::MakeSpan(buf), 7);
  AckPacket a;
  ASSERT_TRUE(ParseAck(absl::MakeConstSpan(buf.data(), n), &a).ok());
  EXPECT_EQ(a.block, 7);

  n = EncodeError(absl::MakeSpan(buf), ErrorCode::kFileNotFound, "missing");
  ErrorPacket e;
  ASSERT_TRUE(ParseError(absl::MakeConstSpan(buf.data(), n), &e).ok());
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.message, "missing");

  n = EncodeOack(absl::MakeSpan(buf), opts);
  OptionList o;
  ASSERT_TRUE(ParseOack(absl::MakeConstSpan(buf.data(), n), &o).ok());
  EXPECT_EQ(o.count, 2u);
}

TEST(Encode, ReturnsZeroWhenTheBufferIsTooSmall) {
  uint8_t small[3];
  EXPECT_EQ(EncodeAck(small, 1), 0u);
  EXPECT_EQ(EncodeDataHeader(small, 1), 0u);
  EXPECT_EQ(EncodeError(small, ErrorCode::kNotDefined, "x"), 0u);
  uint8_t ten[10];
  const uint8_t payload[7] = {};
  EXPECT_EQ(EncodeData(ten, 1, payload), 0u);
  EXPECT_EQ(
      EncodeRequest(ten, Opcode::kRrq, "longname", TransferMode::kOctet, {}),
      0u);
}

TEST(Encode, ErrorMessageIsCutToFitAndStopsAtNul) {
  uint8_t buf[8];
  const size_t n = EncodeError(buf, ErrorCode::kNotDefined, "a long message");
  ASSERT_EQ(n, 8u);
  EXPECT_EQ(buf[7], 0);
  ErrorPacket e;
  ASSERT_TRUE(ParseError(absl::MakeConstSpan(buf, n), &e).ok());
  EXPECT_EQ(e.message, "a l");
  uint8_t big[32];
  const size_t m =
      EncodeError(big, ErrorCode::kNotDefined, absl::string_view("ab\0cd", 5));
  ASSERT_TRUE(ParseError(absl::MakeConstSpan(big, m), &e).ok());
  EXPECT_EQ(e.message, "ab");
}

}  // namespace
}  // namespace tftp
