// An upload's commit against its deadline: a client is told its upload
// failed only when the file will not appear. A commit still waiting for a
// committer thread at the deadline is withdrawn (and the client told); one
// already running decides what the client hears, however long it takes.
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/engine/engine_harness.h"

namespace tftpd::testing {
namespace {

using std::chrono::seconds;

constexpr int kAck = 4;
constexpr int kError = 5;

// A store that takes as long as the test says: each commit waits until
// released, and what happened to each sink is kept.
class SlowStore : public RequestHandler {
 public:
  struct State {
    std::mutex mutex;
    std::condition_variable changed;
    bool released = false;
    std::vector<std::string> begun;
    std::vector<std::string> committed;
    std::vector<std::string> abandoned;
  };

  class Sink : public UploadSink {
   public:
    Sink(std::shared_ptr<State> state, std::string name)
        : state_(std::move(state)), name_(std::move(name)) {}
    absl::Status Write(uint64_t, absl::Span<const uint8_t>) override {
      return absl::OkStatus();
    }
    absl::Status Commit(uint64_t) override {
      std::unique_lock<std::mutex> lock(state_->mutex);
      state_->begun.push_back(name_);
      state_->changed.wait(lock, [&] { return state_->released; });
      state_->committed.push_back(name_);
      return absl::OkStatus();
    }
    void Abandon() override {
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->abandoned.push_back(name_);
    }

   private:
    std::shared_ptr<State> state_;
    std::string name_;
  };

  Response Handle(const RequestContext&) override {
    return Response::Refuse(tftp::ErrorCode::kFileNotFound, "no");
  }
  UploadResponse HandleUpload(const RequestContext& request) override {
    return UploadResponse::Sink(std::make_shared<Sink>(state, request.path));
  }
  void Release() {
    std::lock_guard<std::mutex> lock(state->mutex);
    state->released = true;
    state->changed.notify_all();
  }
  size_t Begun() {
    std::lock_guard<std::mutex> lock(state->mutex);
    return state->begun.size();
  }

  std::shared_ptr<State> state = std::make_shared<State>();
};

// Uploads `name` (one short block) from `client`; the replies so far.
std::vector<Reply> UploadOneBlock(EngineHarness& h,
                                  const io::SocketAddress& client,
                                  const std::string& name) {
  h.SendToService(client, RequestPacket(2, name));
  std::vector<Reply> ack0 = To(h.Run(), client);
  EXPECT_EQ(ack0.size(), 1u);
  if (ack0.empty()) return {};
  h.SendTo(ack0[0].fd, client, std::string({0, 3, 0, 1}) + "config\n");
  return To(h.Run(), client);
}

// Before, the client was told "could not be stored in time" at the
// deadline while its commit went on and put the file in place.
TEST(Commits, OnlyACommitThatNeverBeganIsReportedFailedAtItsDeadline) {
  auto store = std::make_shared<SlowStore>();
  EngineHarness h([](ServerConfig& c) { c.allow_write = true; }, store);
  const io::SocketAddress running = Client(1);
  const io::SocketAddress waiting = Client(2);
  EXPECT_TRUE(UploadOneBlock(h, running, "running.cfg").empty());
  // The harness's one committer thread is now in running.cfg's commit.
  h.RunUntil([&] { return store->Begun() == 1; });
  EXPECT_TRUE(UploadOneBlock(h, waiting, "waiting.cfg").empty());
  // Past the source timeout (5 s here), and well past it.
  std::vector<Reply> replies = h.Advance(seconds(6));
  for (const Reply& r : h.Advance(seconds(10))) replies.push_back(r);
  const std::vector<Reply> to_waiting = To(replies, waiting);
  ASSERT_EQ(to_waiting.size(), 1u);
  EXPECT_EQ(to_waiting[0].opcode(), kError);
  EXPECT_TRUE(To(replies, running).empty());  // Not told anything yet.
  store->Release();
  std::vector<Reply> final_ack;
  h.RunUntil([&] {
    for (const Reply& r : To(h.Run(), running)) final_ack.push_back(r);
    return !final_ack.empty();
  });
  ASSERT_EQ(final_ack.size(), 1u);
  EXPECT_EQ(final_ack[0].opcode(), kAck);
  EXPECT_EQ(final_ack[0].block(), 1);
  std::lock_guard<std::mutex> lock(store->state->mutex);
  EXPECT_EQ(store->state->committed, std::vector<std::string>{"running.cfg"});
  EXPECT_EQ(store->state->begun, std::vector<std::string>{"running.cfg"});
}

}  // namespace
}  // namespace tftpd::testing
