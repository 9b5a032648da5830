// What a program attaches to a request (Response::WithSession) comes back in
// that request's statistics record, whatever the answer was, and nothing of
// the engine keeps it after: a program may keep per-request state there
// instead of in a table that a lost record would leave behind.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/engine/engine_harness.h"

namespace tftpd::testing {
namespace {

constexpr int kData = 3;
constexpr int kError = 5;

class StringSource : public ResponseSource {
 public:
  explicit StringSource(std::string content) : content_(std::move(content)) {}
  absl::StatusOr<size_t> Read(absl::Span<uint8_t> buffer) override {
    const size_t n = std::min(buffer.size(), content_.size() - offset_);
    std::memcpy(buffer.data(), content_.data() + offset_, n);
    offset_ += n;
    return n;
  }

 private:
  const std::string content_;
  size_t offset_ = 0;
};

// Answers by the requested name, each answer with a session of its own.
class EveryKind : public RequestHandler {
 public:
  Response Handle(const RequestContext& request) override {
    auto session = std::make_shared<std::string>(request.path);
    std::lock_guard<std::mutex> lock(mutex);
    sessions[request.path] = session;
    return Answer(request.path).WithSession(std::move(session));
  }
  std::mutex mutex;
  std::map<std::string, std::weak_ptr<std::string>> sessions;
  StreamWriter later;  // The response to "later", begun by the test.

 private:
  Response Answer(const std::string& path) {
    if (path == "kernel") return Response::File(path);  // Mapped first.
    if (path == "bytes") return Response::Bytes("made");
    if (path == "pulled") {
      return Response::Pull(std::make_shared<StringSource>("read"), 4);
    }
    if (path == "refused") {
      return Response::Refuse(tftp::ErrorCode::kAccessViolation, "no");
    }
    if (path == "later") {
      auto [stream, writer] = ResponseStream::Create();
      later = std::move(writer);
      return Response::Stream(std::move(stream));
    }
    return Response::Drop();
  }
};

// A shard answering with EveryKind, keeping every record.
struct Served {
  std::shared_ptr<Records> records = std::make_shared<Records>();
  std::shared_ptr<EveryKind> handler = std::make_shared<EveryKind>();
  EngineHarness h{[records = records](ServerConfig& c) {
                    c.on_transfer_end = Records::Keep(records);
                  },
                  handler};
};

// Each record holds its request's session; once the records go, nothing
// holds any.
void ExpectSessionsComeBackAlone(Served& served) {
  std::lock_guard<std::mutex> lock(served.records->mutex);
  for (const TransferStats& record : served.records->list) {
    const std::string& name = record.requested_path;
    ASSERT_NE(record.session, nullptr) << name;
    EXPECT_EQ(record.session, served.handler->sessions[name].lock()) << name;
  }
  served.records->list.clear();
  for (const auto& [name, session] : served.handler->sessions) {
    EXPECT_TRUE(session.expired()) << name << " is still held";
  }
}

TEST(Sessions, EveryKindOfResponseBringsItsSessionBackInItsRecordAlone) {
  Served served;
  EngineHarness& h = served.h;
  EveryKind* handler = served.handler.get();
  Records* records = served.records.get();
  h.root().Write("kernel", "boot");
  // A download of one short block: DATA 1, ACK 1.
  auto download = [&](size_t client, const std::string& name,
                      const std::string& content) {
    const io::SocketAddress peer = Client(client);
    h.SendToService(peer, RequestPacket(1, name));
    std::vector<Reply> data;
    h.RunUntil([&] {
      for (const Reply& r : To(h.Run(), peer)) data.push_back(r);
      return !data.empty();
    });
    ASSERT_EQ(data.size(), 1u) << name;
    ASSERT_EQ(data[0].opcode(), kData) << name;
    EXPECT_EQ(data[0].payload(), content);
    h.SendTo(data[0].fd, peer, AckPacket(1));
    h.Run();
  };
  download(1, "kernel", "boot");  // Waits for the loader.
  download(2, "bytes", "made");
  download(3, "pulled", "read");
  h.SendToService(Client(4), RequestPacket(1, "refused"));
  std::vector<Reply> refused = To(h.Run(), Client(4));
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].opcode(), kError);
  h.SendToService(Client(5), RequestPacket(1, "dropped"));
  EXPECT_TRUE(To(h.Run(), Client(5)).empty());
  // Waits for its stream to begin.
  h.SendToService(Client(6), RequestPacket(1, "later"));
  EXPECT_TRUE(To(h.Run(), Client(6)).empty());
  ASSERT_TRUE(handler->later.Begin(4));
  ASSERT_TRUE(handler->later.Append("late"));
  ASSERT_TRUE(handler->later.Finish());
  std::vector<Reply> late;
  h.RunUntil([&] {
    for (const Reply& r : To(h.Run(), Client(6))) late.push_back(r);
    return !late.empty();
  });
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].payload(), "late");
  h.SendTo(late[0].fd, Client(6), AckPacket(1));
  h.RunUntil(
      [&] { return records->size() == 6 && h.shard().open_transfers() == 0; });

  {
    std::lock_guard<std::mutex> lock(records->mutex);
    ASSERT_EQ(records->list.size(), 6u);
    for (const TransferStats& record : records->list) {
      ASSERT_NE(record.session, nullptr) << record.requested_path;
      EXPECT_EQ(*std::static_pointer_cast<std::string>(record.session),
                record.requested_path);
    }
  }
  ExpectSessionsComeBackAlone(served);
}

TEST(Sessions, ARequestGivenUpAfterWaitingBringsItsSessionBack) {
  // The file is mapped, or the stream begins, while the request waits; then
  // no socket is left for its transfer, and it goes unanswered (deferred:
  // the client's repeat of it may find one).
  Served served;
  EngineHarness& h = served.h;
  EveryKind* handler = served.handler.get();
  Records* records = served.records.get();
  h.memory().set_socket_limit(0);
  h.root().Write("kernel", "boot");
  h.SendToService(Client(1), RequestPacket(1, "kernel"));
  h.SendToService(Client(2), RequestPacket(1, "later"));
  h.Run();
  ASSERT_TRUE(handler->later.Begin(4));
  h.RunUntil([&] { return records->size() == 2; });

  {
    std::lock_guard<std::mutex> lock(records->mutex);
    ASSERT_EQ(records->list.size(), 2u);
    for (const TransferStats& record : records->list) {
      EXPECT_EQ(record.outcome, "unanswered") << record.requested_path;
    }
  }
  ExpectSessionsComeBackAlone(served);
}

}  // namespace
}  // namespace tftpd::testing
