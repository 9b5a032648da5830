// The framework API inside one process: a Server with scripted handlers,
// driven by hand-made clients on loopback. Refusals with any code, handler
// exceptions, bytes and streams that begin late, fail, are thrown away or
// stall, and the statistics callbacks.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/api/request_handler.h"
#include "server/api/server.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd {
namespace {

using ::tftpd::testing::HandRead;
using ::tftpd::testing::ReadTransferByHand;
using ::tftpd::testing::TempDir;
using namespace std::chrono_literals;

class ScriptedHandler : public RequestHandler {
 public:
  explicit ScriptedHandler(std::function<Response(const RequestContext&)> fn)
      : fn_(std::move(fn)) {}
  Response Handle(const RequestContext& request) override {
    return fn_(request);
  }

 private:
  std::function<Response(const RequestContext&)> fn_;
};

class Framework : public ::testing::Test {
 protected:
  void Start(std::function<Response(const RequestContext&)> handle) {
    ServerConfig config;
    config.root = root_.path();
    config.address = *io::SocketAddress::Parse("127.0.0.1", 0);
    config.threads = 2;
    config.handler = std::make_shared<ScriptedHandler>(std::move(handle));
    config.source_timeout = 500ms;
    config.stats_interval = 100ms;
    config.on_transfer_end = [this](const TransferStats& s) {
      std::lock_guard<std::mutex> lock(mutex_);
      transfers_.push_back(s);
      changed_.notify_all();
    };
    config.on_server_stats = [this](const ServerStats& s) {
      std::lock_guard<std::mutex> lock(mutex_);
      intervals_.push_back(s);
      changed_.notify_all();
    };
    auto server = Server::Create(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_ != nullptr) {
      server_->Stop(true);
      server_->Wait();
    }
    for (std::thread& t : producers_) t.join();
  }

  HandRead Read(const std::string& name,
                const std::vector<std::string>& options = {}) {
    return ReadTransferByHand(server_->address(), name, 3000ms, options);
  }
  // Runs `produce` on a thread of its own, as a real source would.
  template <typename F>
  void Produce(F produce) {
    producers_.emplace_back(std::move(produce));
  }
  std::vector<TransferStats> WaitForTransfers(size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, 5s, [&] { return transfers_.size() >= n; });
    return transfers_;
  }

  TempDir root_;
  std::unique_ptr<Server> server_;
  std::vector<std::thread> producers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<TransferStats> transfers_;
  std::vector<ServerStats> intervals_;
};

TEST_F(Framework, HandlersRefuseWithAnyCodeAndMessage) {
  Start([](const RequestContext& r) {
    if (r.path == "quota") {
      return Response::Refuse(tftp::ErrorCode::kDiskFull, "over quota");
    }
    return Response::Refuse(tftp::ErrorCode::kOptionRefused, "not today");
  });
  HandRead r = Read("quota");
  EXPECT_EQ(r.error_code, 3);
  EXPECT_EQ(r.error_message, "over quota");
  r = Read("anything");
  EXPECT_EQ(r.error_code, 8);
  EXPECT_EQ(r.error_message, "not today");
  EXPECT_EQ(server_->Totals().refused(RefusalReason::k_handler), 2u);
}

TEST_F(Framework, AHandlerThatThrowsRefusesWithError0) {
  Start([](const RequestContext&) -> Response {
    throw std::runtime_error("database down");
  });
  const HandRead r = Read("x");
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.error_message, "request handler failed");
  EXPECT_EQ(Read("x").error_code, 0);  // The server carries on.
}

TEST_F(Framework, TheHandlerSeesTheRequestAndBytesAreSent) {
  std::mutex seen_mutex;
  RequestContext seen;
  Start([&](const RequestContext& r) {
    std::lock_guard<std::mutex> lock(seen_mutex);
    seen = r;
    return Response::Bytes("config for " + r.peer.HostString() + "\n" +
                           std::string(1000, 'x'));
  });
  const HandRead r = Read("/Boot/CFG", {"blksize", "600", "tsize", "0"});
  EXPECT_EQ(r.error_code, -1);
  EXPECT_EQ(r.bytes, "config for 127.0.0.1\n" + std::string(1000, 'x'));
  {
    std::lock_guard<std::mutex> lock(seen_mutex);
    EXPECT_EQ(seen.requested_path, "/Boot/CFG");
    EXPECT_EQ(seen.peer.HostString(), "127.0.0.1");
    EXPECT_EQ(seen.server_address.HostString(), "127.0.0.1");
    ASSERT_EQ(seen.options.size(), 2u);
    EXPECT_EQ(seen.options[0],
              std::make_pair(std::string("blksize"), std::string("600")));
  }
  const std::vector<TransferStats> transfers = WaitForTransfers(1);
  ASSERT_EQ(transfers.size(), 1u);
  const TransferStats& s = transfers[0];
  EXPECT_EQ(s.outcome, "completed");
  EXPECT_TRUE(s.client_answered);
  EXPECT_EQ(s.requested_path, "/Boot/CFG");
  EXPECT_EQ(s.blksize, 600);
  EXPECT_EQ(s.bytes_sent, 1021u);
  EXPECT_EQ(s.bytes_acknowledged, 1021u);
  EXPECT_EQ(s.blocks_acknowledged, 2u);
  EXPECT_EQ(s.packets_sent, 3u);  // OACK and two DATA.
  EXPECT_EQ(s.response_size, 1021u);
  ASSERT_EQ(s.options_acknowledged.size(), 2u);
  EXPECT_EQ(s.options_acknowledged[1],
            std::make_pair(std::string("tsize"), std::string("1021")));
  EXPECT_GT(s.duration.count(), 0);
}

TEST_F(Framework, AStreamThatBeginsLateIsWaitedFor) {
  static const std::string content(5000, 'k');
  Start([&](const RequestContext&) {
    auto [stream, writer] = ResponseStream::Create();
    Produce([this, w = std::move(writer)]() mutable {
      // Once the transfer waits for it...
      testing::WaitUntil(
          [&] { return server_->Totals().transfers_active >= 1; });
      w.Begin(content.size());
      w.Append(content.substr(0, 2000));
      // ...and again once the client has had all it can (ACK 0 to 3).
      testing::WaitUntil(
          [&] { return server_->Totals().packets_received >= 4; });
      w.Append(content.substr(2000));
      w.Finish();
    });
    return Response::Stream(stream);
  });
  const HandRead r = Read("k", {"tsize", "0"});
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.bytes, content);
  const std::vector<TransferStats> transfers = WaitForTransfers(1);
  ASSERT_EQ(transfers.size(), 1u);
  EXPECT_EQ(transfers[0].response_size, 5000u);  // Announced once it began.
}

TEST_F(Framework, AStreamFailingBeforeItBeginsRefusesTheRequest) {
  Start([&](const RequestContext&) {
    auto [stream, writer] = ResponseStream::Create();
    Produce([this, w = std::move(writer)]() mutable {
      // Once the transfer waits for it.
      testing::WaitUntil(
          [&] { return server_->Totals().transfers_active >= 1; });
      w.Fail(tftp::ErrorCode::kFileNotFound, "not in the repository");
    });
    return Response::Stream(stream);
  });
  const HandRead r = Read("k");
  EXPECT_EQ(r.error_code, 1);
  EXPECT_EQ(r.error_message, "not in the repository");
  EXPECT_EQ(server_->Totals().refused(RefusalReason::k_source_failed), 1u);
}

TEST_F(Framework, AThrownAwaySourceEndsTheTransferWithAnError) {
  Start([&](const RequestContext&) {
    auto [stream, writer] = ResponseStream::Create();
    Produce([this, w = std::move(writer)]() mutable {
      w.Append(std::string(2048, 'a'));
      // Until the client has acknowledged all four blocks.
      testing::WaitUntil(
          [&] { return server_->Totals().packets_received >= 4; });
      // The writer goes away here without Finish.
    });
    return Response::Stream(stream);
  });
  const HandRead r = Read("k");
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.error_message, "response source ended unfinished");
  EXPECT_EQ(r.bytes, std::string(2048, 'a'));
  const std::vector<TransferStats> transfers = WaitForTransfers(1);
  ASSERT_EQ(transfers.size(), 1u);
  EXPECT_EQ(transfers[0].outcome, "aborted");
  EXPECT_EQ(transfers[0].error_message, "response source ended unfinished");
}

TEST_F(Framework, AStalledSourceAndOneThatNeverBeginsTimeOut) {
  std::vector<StreamWriter> kept;  // Alive, silent: a stuck producer.
  std::mutex kept_mutex;
  Start([&](const RequestContext& r) {
    auto [stream, writer] = ResponseStream::Create();
    if (r.path == "stalls") writer.Append(std::string(1024, 's'));
    std::lock_guard<std::mutex> lock(kept_mutex);
    kept.push_back(std::move(writer));
    return Response::Stream(stream);
  });
  HandRead r = Read("stalls");
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.error_message, "response source stalled");
  EXPECT_EQ(r.bytes, std::string(1024, 's'));
  r = Read("never");
  EXPECT_EQ(r.error_code, 0);
  EXPECT_EQ(r.error_message, "response source did not answer in time");
  server_->Stop(true);
  server_->Wait();
}

TEST_F(Framework, ServerStatsAreCountsPerIntervalStartingFromZero) {
  Start([](const RequestContext&) { return Response::Bytes("hi"); });
  ASSERT_EQ(Read("a").bytes, "hi");
  ASSERT_EQ(Read("b").bytes, "hi");
  std::unique_lock<std::mutex> lock(mutex_);
  uint64_t started = 0;
  size_t after = 0;
  // Every transfer is counted in exactly one interval; later ones are empty.
  changed_.wait_for(lock, 5s, [&] {
    started = 0;
    for (const ServerStats& s : intervals_)
      started += s.totals.transfers_started;
    after = intervals_.size();
    return started == 2;
  });
  EXPECT_EQ(started, 2u);
  changed_.wait_for(lock, 5s, [&] { return intervals_.size() >= after + 2; });
  ASSERT_GE(intervals_.size(), after + 2);
  const ServerStats& last = intervals_.back();
  EXPECT_EQ(last.totals.transfers_started, 0u);
  EXPECT_EQ(last.shards.size(), 2u);
  EXPECT_LE(last.interval_start, last.interval_end);
}

}  // namespace
}  // namespace tftpd
