// ResponseStream: bytes from any thread, readers told once per change.
#include "server/api/response_stream.h"

#include <atomic>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace tftpd {
namespace {

TEST(ResponseStream, BytesAppendedStayWhereTheyWere) {
  auto [stream, writer] = ResponseStream::Create(8 << 20);
  EXPECT_FALSE(stream->state().begun);
  ASSERT_TRUE(writer.Append("hello "));
  const uint8_t* before = stream->data();
  std::string big(3 << 20, 'x');  // Crosses several commit steps.
  ASSERT_TRUE(writer.Append(big));
  ASSERT_TRUE(writer.Finish());
  EXPECT_EQ(stream->data(), before);
  const ResponseStream::State state = stream->state();
  EXPECT_TRUE(state.begun);
  EXPECT_TRUE(state.complete);
  EXPECT_EQ(state.available, 6u + big.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(stream->data()), 6),
            "hello ");
  EXPECT_FALSE(writer.Append("more"));  // Ended.
}

TEST(ResponseStream, SizeLimitsAndAnnouncedSizes) {
  {
    auto [stream, writer] = ResponseStream::Create(10);
    EXPECT_FALSE(writer.Append(std::string(11, 'a')));
    EXPECT_TRUE(stream->state().failed);
  }
  {
    auto [stream, writer] = ResponseStream::Create();
    ASSERT_TRUE(writer.Begin(5));
    EXPECT_EQ(stream->state().size, 5u);
    EXPECT_FALSE(writer.Append("123456"));  // More than announced.
    EXPECT_TRUE(stream->state().failed);
  }
  {
    auto [stream, writer] = ResponseStream::Create();
    ASSERT_TRUE(writer.Begin(5));
    ASSERT_TRUE(writer.Append("123"));
    EXPECT_FALSE(writer.Finish());  // Short of what was announced.
    EXPECT_TRUE(stream->state().failed);
    EXPECT_NE(stream->state().error_message.find("3 bytes of the 5"),
              std::string::npos);
  }
}

TEST(ResponseStream, AThrownAwayWriterFailsTheStream) {
  std::shared_ptr<ResponseStream> stream;
  {
    auto created = ResponseStream::Create();
    stream = created.first;
    created.second.Append("partial");
  }
  const ResponseStream::State state = stream->state();
  EXPECT_TRUE(state.failed);
  EXPECT_EQ(state.error_code, tftp::ErrorCode::kNotDefined);
  EXPECT_EQ(state.error_message, "response source ended unfinished");
}

TEST(ResponseStream, FailCarriesTheTftpError) {
  auto [stream, writer] = ResponseStream::Create();
  writer.Fail(tftp::ErrorCode::kFileNotFound, "not at the origin");
  EXPECT_EQ(stream->state().error_code, tftp::ErrorCode::kFileNotFound);
  EXPECT_EQ(stream->state().error_message, "not at the origin");
  EXPECT_FALSE(writer.Begin());
}

TEST(ResponseStream, SubscribersAreToldOnceUntilTheyLook) {
  auto [stream, writer] = ResponseStream::Create();
  int calls = 0;
  const uint64_t id = stream->Subscribe([&] { ++calls; });
  writer.Append("a");
  writer.Append("b");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(stream->Acknowledge(id).available, 2u);
  writer.Append("c");
  EXPECT_EQ(calls, 2);
  stream->Unsubscribe(id);
  stream->Acknowledge(id);
  writer.Finish();
  EXPECT_EQ(calls, 2);
}

TEST(ResponseStream, AbandonedWhenOnlyTheWriterHoldsIt) {
  auto created = ResponseStream::Create();
  StreamWriter writer = std::move(created.second);
  EXPECT_FALSE(writer.abandoned());
  created.first.reset();
  EXPECT_TRUE(writer.abandoned());
}

TEST(ResponseStream, ReadersOnOtherThreadsSeeOnlyWrittenBytes) {
  auto [stream, writer] = ResponseStream::Create(64 << 20);
  std::atomic<bool> bad{false};
  std::thread reader([&, s = stream] {
    uint64_t seen = 0;
    while (true) {
      const ResponseStream::State state = s->state();
      for (uint64_t i = seen; i < state.available; ++i) {
        if (s->data()[i] != static_cast<uint8_t>(i % 251)) bad = true;
      }
      seen = state.available;
      if (state.complete) break;
    }
  });
  std::string chunk;
  uint64_t offset = 0;
  for (int i = 0; i < 256; ++i) {
    chunk.clear();
    for (int j = 0; j < 4096; ++j, ++offset) {
      chunk.push_back(static_cast<char>(offset % 251));
    }
    writer.Append(chunk);
  }
  writer.Finish();
  reader.join();
  EXPECT_FALSE(bad.load());
}

}  // namespace
}  // namespace tftpd
