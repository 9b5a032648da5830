// Pulled streams on their own: reads bounded by the read-ahead, memory
// given back behind the reader, the source closed exactly once however the
// stream ends, and the source threads' shutdown.
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/api/response_stream.h"
#include "server/api/source_threads.h"

namespace tftpd {
namespace {

class Source : public ResponseSource {
 public:
  explicit Source(size_t size) : size_(size) {}
  absl::StatusOr<size_t> Read(absl::Span<uint8_t> buffer) override {
    ++reads;
    // A slow origin's pace (an HTTP fetch per block), not a wait for the
    // test: nothing else happens meanwhile.
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    if (fail_at >= 0 && offset >= static_cast<size_t>(fail_at)) {
      return absl::UnknownError("backend gone");
    }
    const size_t n = std::min(buffer.size(), size_ - offset);
    std::memset(buffer.data(), static_cast<int>('a' + offset % 26), n);
    offset += n;
    return n;
  }
  void Close() override { ++closes; }
  size_t offset = 0;
  int reads = 0;
  std::chrono::milliseconds delay{0};
  int fail_at = -1;
  std::atomic<int> closes{0};

 private:
  const size_t size_;
};

// Runs jobs at once on the caller's thread: every step is deterministic.
const SourceExecutor kInline = [](std::function<void()> job, SourcePace) {
  job();
};

// Keeps the jobs posted, with their pace, for the test to run one by one.
struct ManualExecutor {
  SourceExecutor executor() {
    return [this](std::function<void()> job, SourcePace pace) {
      jobs.emplace_back(std::move(job), pace);
    };
  }
  void RunNext() {
    auto job = std::move(jobs.front().first);
    jobs.pop_front();
    job();
  }
  std::deque<std::pair<std::function<void()>, SourcePace>> jobs;
};

TEST(PulledStream, ASlowSourceIsReadABlockAJobAndStopsWhenItsReaderGoes) {
  auto source = std::make_shared<Source>(1 << 20);
  source->delay = 2 * ResponseStream::kSlowRead;
  ManualExecutor executor;
  auto [stream, writer] = ResponseStream::Create();
  ASSERT_TRUE(writer.BeginPull(source, std::nullopt));
  const uint64_t reader = stream->Subscribe([] {}, executor.executor());
  ASSERT_TRUE(stream->AttachReader(reader, 1000, 64 << 10, false));
  ASSERT_EQ(executor.jobs.size(), 1u);
  EXPECT_EQ(executor.jobs.front().second, SourcePace::kUnproven);
  executor.RunNext();
  // One block, then the next read is a job of its own, queued as slow
  // behind other slow sources' jobs.
  EXPECT_EQ(source->reads, 1);
  ASSERT_EQ(executor.jobs.size(), 1u);
  EXPECT_EQ(executor.jobs.front().second, SourcePace::kSlow);
  executor.RunNext();
  EXPECT_EQ(source->reads, 2);
  // Its transfer ends: no read after the one under way; the source closes.
  stream->Unsubscribe(reader);
  while (!executor.jobs.empty()) executor.RunNext();
  EXPECT_EQ(source->reads, 2);
  EXPECT_EQ(source->closes.load(), 1);
}

TEST(PulledStream, AFastSourceIsReadInGrowingCalls) {
  auto source = std::make_shared<Source>(1 << 20);
  ManualExecutor executor;
  auto [stream, writer] = ResponseStream::Create();
  ASSERT_TRUE(writer.BeginPull(source, std::nullopt));
  const uint64_t reader = stream->Subscribe([] {}, executor.executor());
  ASSERT_TRUE(stream->AttachReader(reader, 1000, 64 << 10, false));
  executor.RunNext();  // One job reads the whole read-ahead.
  EXPECT_GE(stream->state().available, 64u << 10);
  EXPECT_TRUE(executor.jobs.empty());
  stream->Consumed(reader, 60 << 10);
  ASSERT_EQ(executor.jobs.size(), 1u);
  EXPECT_NE(executor.jobs.front().second, SourcePace::kSlow);
  executor.RunNext();
  EXPECT_GE(stream->state().available, (60u + 64u) << 10);
}

TEST(PulledStream, ReadsOnlyTheReadAheadAndMoreAsTheReaderMoves) {
  auto source = std::make_shared<Source>(1 << 20);
  auto [stream, writer] = ResponseStream::Create();
  ASSERT_TRUE(writer.BeginPull(source, 1 << 20));
  const uint64_t reader = stream->Subscribe([] {}, kInline);
  EXPECT_EQ(source->offset, 0u);  // Nothing before a reader attaches.
  ASSERT_TRUE(stream->AttachReader(reader, 1000, 64 << 10, false));
  EXPECT_GE(source->offset, 64u << 10);
  EXPECT_LT(source->offset, (64u << 10) + 1000);
  const size_t before = source->offset;
  stream->Consumed(reader, 16 << 10);  // Less than half: no read yet.
  EXPECT_EQ(source->offset, before);
  stream->Consumed(reader, 40 << 10);
  EXPECT_GE(source->offset, (40u << 10) + (64u << 10));
  EXPECT_EQ(stream->state().available, source->offset);
}

TEST(PulledStream, ItsMemoryIsARingTheSizeOfTheReadAhead) {
  auto source = std::make_shared<Source>(4 << 20);
  auto [stream, writer] = ResponseStream::Create();
  writer.BeginPull(source, std::nullopt);
  const uint64_t reader = stream->Subscribe([] {}, kInline);
  stream->AttachReader(reader, 1000, 64 << 10, false);
  // The read-ahead and a few blocks, whatever the response's size.
  EXPECT_GE(stream->ring_size(), (64u << 10) + 1000);
  EXPECT_LE(stream->ring_size(), (64u << 10) + 8192);
  // Every byte between the reader and what was read is where At says, also
  // across the ring's end (Source writes 'a' + offset / 1 % 26 per Read).
  for (uint64_t at = 0; at < (4 << 20) - 1000; at += 7000) {
    stream->Consumed(reader, at);
    const uint64_t available = stream->state().available;
    ASSERT_GT(available, at);
    for (uint64_t o = at; o < available; o += 997) {
      const uint64_t read_start = o / 1000 * 1000;  // Each Read fills a block.
      ASSERT_EQ(*stream->At(o), 'a' + read_start % 26) << "offset " << o;
    }
  }
}

TEST(PulledStream, AReaderAttachedBeforeTheSourceBeganReadsFromARingToo) {
  auto source = std::make_shared<Source>(1 << 20);
  auto [stream, writer] = ResponseStream::Create();
  const uint64_t reader = stream->Subscribe([] {}, kInline);
  ASSERT_TRUE(stream->AttachReader(reader, 1000, 64 << 10, false));
  ASSERT_TRUE(writer.BeginPull(source, 1 << 20));
  EXPECT_GE(stream->ring_size(), (64u << 10) + 1000);
  EXPECT_LE(stream->ring_size(), (64u << 10) + 8192);
  for (uint64_t at = 0; at < (1 << 20) - 1000; at += 7000) {
    stream->Consumed(reader, at);
    for (uint64_t o = at; o < stream->state().available; o += 997) {
      ASSERT_EQ(*stream->At(o), 'a' + o / 1000 * 1000 % 26) << "offset " << o;
    }
  }
}

TEST(PulledStream, TheSourceIsClosedOnceAtTheEndOrWhenNobodyReads) {
  {  // Read to the end.
    auto source = std::make_shared<Source>(3000);
    auto [stream, writer] = ResponseStream::Create();
    writer.BeginPull(source, 3000);
    const uint64_t reader = stream->Subscribe([] {}, kInline);
    stream->AttachReader(reader, 1000, 64 << 10, false);
    EXPECT_TRUE(stream->state().complete);
    EXPECT_EQ(stream->state().available, 3000u);
    EXPECT_EQ(source->closes.load(), 1);
    stream->Unsubscribe(reader);
    EXPECT_EQ(source->closes.load(), 1);
  }
  {  // Its reader goes away first.
    auto source = std::make_shared<Source>(10 << 20);
    auto [stream, writer] = ResponseStream::Create();
    writer.BeginPull(source, std::nullopt);
    const uint64_t reader = stream->Subscribe([] {}, kInline);
    stream->AttachReader(reader, 1000, 64 << 10, false);
    EXPECT_EQ(source->closes.load(), 0);
    stream->Unsubscribe(reader);
    EXPECT_EQ(source->closes.load(), 1);
  }
  {  // Refused before any reader (Abandon), then released.
    auto source = std::make_shared<Source>(100);
    auto [stream, writer] = ResponseStream::Create();
    writer.BeginPull(source, 100);
    stream->Abandon(kInline);
    EXPECT_EQ(source->closes.load(), 1);
  }
  {  // Its source fails: the stream fails with the error, then closes it.
    auto source = std::make_shared<Source>(100000);
    source->fail_at = 5000;
    auto [stream, writer] = ResponseStream::Create();
    writer.BeginPull(source, std::nullopt);
    const uint64_t reader = stream->Subscribe([] {}, kInline);
    stream->AttachReader(reader, 1000, 64 << 10, false);
    EXPECT_TRUE(stream->state().failed);
    EXPECT_EQ(stream->state().error_message, "backend gone");
    EXPECT_EQ(source->closes.load(), 1);
  }
}

TEST(PulledStream, AnEstimatedSizeIsAnnouncedNotEnforced) {
  for (const size_t actual : {1000u, 3000u}) {
    for (const SizePromise promise :
         {SizePromise::kEstimate, SizePromise::kExact}) {
      auto source = std::make_shared<Source>(actual);
      auto [stream, writer] = ResponseStream::Create();
      ASSERT_TRUE(writer.BeginPull(source, 2000, promise));
      EXPECT_EQ(stream->state().size, 2000u);  // For tsize either way.
      const uint64_t reader = stream->Subscribe([] {}, kInline);
      stream->AttachReader(reader, 512, 64 << 10, false);
      if (promise == SizePromise::kEstimate) {
        EXPECT_TRUE(stream->state().complete) << actual;
        EXPECT_EQ(stream->state().available, actual);
      } else {
        EXPECT_TRUE(stream->state().failed) << actual;
      }
    }
  }
}

TEST(PulledStream, DropAndRetryPolicyAreForBeforeTheBeginning) {
  auto [stream, writer] = ResponseStream::Create();
  RetryPolicy retry;
  retry.retries = 2;
  EXPECT_TRUE(writer.SetRetryPolicy(retry));
  writer.Drop();
  EXPECT_TRUE(stream->state().failed);
  EXPECT_TRUE(stream->state().dropped);
  EXPECT_EQ(stream->state().retry.retries, 2);
  auto [begun, begun_writer] = ResponseStream::Create();
  begun_writer.Begin(5);
  begun_writer.Drop();  // Too late: it has begun.
  EXPECT_FALSE(begun->state().failed);
}

TEST(SourceThreads, AJobPostedWhileTheThreadsStopStillRuns) {
  // A read that ends as the server stops posts its source's Close: it must
  // run (here, or on the destroying thread), never be lost or crash.
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> closes{0};
    std::mutex mutex;
    std::condition_variable stopping_cv;
    bool stopping = false;
    {
      SourceThreads threads(2);
      threads.Run([&] {
        std::unique_lock<std::mutex> lock(mutex);
        stopping_cv.wait(lock, [&] { return stopping; });
        lock.unlock();
        threads.Run([&] { ++closes; });
      });
      {
        std::lock_guard<std::mutex> lock(mutex);
        stopping = true;
      }
      stopping_cv.notify_all();
    }
    EXPECT_EQ(closes.load(), 1);
  }
}

// Jobs that wait at a gate until the test opens it, counting those that
// started.
class Gate {
 public:
  std::function<void()> Job(int* started_count) {
    return [this, started_count] {
      std::unique_lock<std::mutex> lock(mutex_);
      ++*started_count;
      changed_.notify_all();
      changed_.wait(lock, [&] { return open_; });
      ++finished_;
      changed_.notify_all();
    };
  }
  std::function<void()> Job() { return Job(&started_); }
  // False when `count` jobs did not start within a minute (a failure, not
  // a pace: they start as soon as a thread takes them).
  bool WaitStarted(const int* started_count, int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::minutes(1),
                             [&] { return *started_count >= count; });
  }
  bool WaitStarted(int count) { return WaitStarted(&started_, count); }
  bool WaitFinished(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::minutes(1),
                             [&] { return finished_ >= count; });
  }
  int started(const int* started_count) {
    std::lock_guard<std::mutex> lock(mutex_);
    return *started_count;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int started_ = 0;
  int finished_ = 0;
  bool open_ = false;
};

TEST(SourceThreads, ThreadsStartForJobsThatBlock) {
  // Twenty sources whose first reads block (a slow origin, not yet known
  // as one) beside a fast source: its job runs while they wait. With four
  // fixed threads, it waited behind them.
  Gate gate;
  SourceThreads threads(64);
  for (int i = 0; i < 20; ++i) threads.Run(gate.Job(), SourcePace::kUnproven);
  ASSERT_TRUE(gate.WaitStarted(20));
  int fast = 0;
  Gate fast_gate;
  fast_gate.Open();
  threads.Run(fast_gate.Job(&fast), SourcePace::kFast);
  EXPECT_TRUE(fast_gate.WaitStarted(&fast, 1));
  EXPECT_LE(threads.threads_started(), 64);
  gate.Open();
  EXPECT_TRUE(gate.WaitFinished(20));
}

TEST(SourceThreads, PastTheBoundSlowJobsWaitBehindEachOtherNotInFrontOfFast) {
  constexpr int kBound = 8;
  const int slow_at_once = kBound - SourceThreads::Reserved(kBound);
  Gate gate;
  SourceThreads threads(kBound);
  for (int i = 0; i < slow_at_once; ++i) {
    threads.Run(gate.Job(), SourcePace::kSlow);
  }
  ASSERT_TRUE(gate.WaitStarted(slow_at_once));
  int late_slow = 0;
  threads.Run(gate.Job(&late_slow), SourcePace::kSlow);
  for (int i = 0; i < 3; ++i) {  // Fast jobs, one after another.
    int fast = 0;
    Gate fast_gate;
    fast_gate.Open();
    threads.Run(fast_gate.Job(&fast), SourcePace::kFast);
    EXPECT_TRUE(fast_gate.WaitStarted(&fast, 1));
  }
  EXPECT_EQ(gate.started(&late_slow), 0);  // It waits for a slow one to end.
  EXPECT_LE(threads.threads_started(), kBound);
  gate.Open();
  EXPECT_TRUE(gate.WaitStarted(&late_slow, 1));
  EXPECT_TRUE(gate.WaitFinished(slow_at_once + 1));
}

TEST(SourceThreads, WakeWithoutPreemptingTheShards) {
  // A shard posts a read on the ACK that makes it due: a source thread that
  // preempted the shard there, on a core they share, switched back and forth
  // once per read. Batch threads wait for the shard to sleep or its slice to
  // end.
  SourceThreads threads(1);
  std::mutex mutex;
  std::condition_variable ran;
  int policy = -1;
  threads.Run([&] {
    std::lock_guard<std::mutex> lock(mutex);
    policy = sched_getscheduler(0);
    ran.notify_all();
  });
  std::unique_lock<std::mutex> lock(mutex);
  ran.wait(lock, [&] { return policy != -1; });
  EXPECT_EQ(policy, SCHED_BATCH);
}

}  // namespace
}  // namespace tftpd
