// A request held past its datagram (a client's repeat parked behind its open
// transfer) points only into its own copy of the bytes: every view, the mode
// as sent included. The shard fuzzer found the mode still pointing into the
// datagram that was gone.
#include "server/engine/held_request.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "protocol/packet.h"
#include "tests/testing/files.h"
#include "tests/testing/packets.h"

namespace tftpd {
namespace {

bool Within(absl::string_view view, absl::Span<const uint8_t> bytes) {
  const auto* start = reinterpret_cast<const uint8_t*>(view.data());
  return start >= bytes.data() &&
         start + view.size() <= bytes.data() + bytes.size();
}

TEST(HeldRequest, EveryViewPointsIntoItsOwnBytes) {
  for (const char* mode : {"octet", "MAIL"}) {
    auto bytes = std::make_unique<std::string>(testing::RequestPacket(
        1, "pxelinux.0", mode, {"blksize", "1428", "tsize", "0"}));
    io::Datagram datagram;
    datagram.payload = absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    tftp::Request parsed;
    // MAIL is refused, with the request parsed all the same.
    (void)tftp::ParseRequest(datagram.payload, &parsed);
    const HeldRequest held(datagram, parsed);
    bytes.reset();  // The datagram's buffer is reused for the next one.
    const absl::Span<const uint8_t> own = held.datagram().payload;
    const tftp::Request& request = held.request();
    EXPECT_TRUE(Within(request.filename, own));
    EXPECT_TRUE(Within(request.mode_name, own)) << mode;
    EXPECT_EQ(request.mode_name, mode);
    ASSERT_EQ(request.options.count, 2u);
    for (const tftp::RawOption& option : request.options.view()) {
      EXPECT_TRUE(Within(option.name, own));
      EXPECT_TRUE(Within(option.value, own));
    }
  }
}

}  // namespace
}  // namespace tftpd
