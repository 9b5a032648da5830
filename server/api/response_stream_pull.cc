// Pulled streams: a ResponseSource read on the source threads only as far as
// the reader's acknowledged position plus its read-ahead, into a ring of
// that size mapped twice in a row.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "protocol/netascii.h"
#include "server/api/response_stream.h"

namespace tftpd {

absl::StatusOr<size_t> ResponseSource::ReadBlocks(absl::Span<uint8_t> buffer,
                                                  size_t block_size) {
  size_t filled = 0;
  while (filled + block_size <= buffer.size()) {
    // fbtftp's rule: a block is read until it is full or a read gives
    // nothing, which ends the response.
    const size_t block_end = filled + block_size;
    while (filled < block_end) {
      absl::StatusOr<size_t> n =
          Read(buffer.subspan(filled, block_end - filled));
      if (!n.ok()) return n.status();
      if (*n == 0) return filled;
      filled += std::min(*n, block_end - filled);
    }
  }
  return filled;
}

bool ResponseStream::BeginPull(std::shared_ptr<ResponseSource> source,
                               std::optional<uint64_t> size,
                               SizePromise promise) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (source_ != nullptr) return false;
  // Held from here on, whatever happens, so that it is closed exactly once.
  source_ = std::move(source);
  if (state_.complete || state_.failed || state_.begun) {
    RunDue(lock);  // Closes it.
    return false;
  }
  if (size.has_value() && *size > max_size_) {
    FailLocked(tftp::ErrorCode::kNotDefined,
               "response larger than this server sends");
    RunDue(lock);
    return false;
  }
  state_.begun = true;
  state_.pulled = true;
  state_.size = size;
  state_.size_estimated = promise == SizePromise::kEstimate;
  MapRingLocked();  // For a reader attached already.
  NotifyLocked();
  RunDue(lock);
  return true;
}

bool ResponseStream::AttachReader(uint64_t subscription, size_t block_size,
                                  uint64_t read_ahead, bool netascii) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (ever_read_) return false;
  for (Subscriber& s : subscribers_) {
    if (s.id != subscription) continue;
    s.reading = true;
    ever_read_ = true;
    block_size_ = std::max<size_t>(block_size, 1);
    read_ahead_ = std::max<uint64_t>(read_ahead, block_size_);
    netascii_ = netascii;
    MapRingLocked();
  }
  RunDue(lock);
  return true;
}

void ResponseStream::MapRingLocked() {
  if (!state_.pulled || !ever_read_ || ring_ != nullptr) return;
  // Room for the unacknowledged bytes up to the read-ahead and the block
  // read past it; netascii encoding may double what one read brings.
  const uint64_t ring = read_ahead_ + 2 * block_size_;
  if (!MapRing(netascii_ ? 2 * ring : ring)) {
    FailLocked(tftp::ErrorCode::kNotDefined, "out of memory for the response");
  }
}

void ResponseStream::Consumed(uint64_t subscription, uint64_t offset) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (Subscriber& s : subscribers_) {
    if (s.id == subscription) s.consumed = std::max(s.consumed, offset);
  }
  RunDue(lock);
}

void ResponseStream::Abandon(const SourceExecutor& executor) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (executor_ == nullptr) executor_ = executor;
  RunDue(lock);
}

uint64_t ResponseStream::WantedLocked() const {
  uint64_t least = UINT64_MAX;
  for (const Subscriber& s : subscribers_) {
    if (s.reading) least = std::min(least, s.consumed);
  }
  return least == UINT64_MAX ? 0 : least + read_ahead_;
}

bool ResponseStream::MapRing(uint64_t size) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  size = (size + page - 1) / page * page;
  const int fd = memfd_create("tftpd-response", MFD_CLOEXEC);
  if (fd < 0) return false;
  void* base = MAP_FAILED;
  if (ftruncate(fd, static_cast<off_t>(size)) == 0) {
    base = mmap(nullptr, 2 * size, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  bool mapped = base != MAP_FAILED;
  for (int half = 0; mapped && half < 2; ++half) {
    mapped = mmap(static_cast<uint8_t*>(base) + half * size, size,
                  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                  0) != MAP_FAILED;
  }
  close(fd);
  if (!mapped) {
    if (base != MAP_FAILED) munmap(base, 2 * size);
    return false;
  }
  ring_ = static_cast<uint8_t*>(base);
  ring_size_ = size;
  return true;
}

void ResponseStream::RunDue(std::unique_lock<std::mutex>& lock) {
  std::function<void()> job;
  if (source_ != nullptr && executor_ != nullptr && !pumping_ &&
      !source_closed_) {
    const bool ended = state_.complete || state_.failed;
    if (ended || subscribers_.empty()) {
      // Finished, failed, or no transfer reads it any more.
      source_closed_ = true;
      job = [source = source_] { source->Close(); };
    } else if (state_.pulled &&
               state_.available + read_ahead_ / 2 < WantedLocked()) {
      // Half the read-ahead is missing: one job reads it back full, so a
      // source thread wakes once per half read-ahead, not once per ACK.
      pumping_ = true;
      job = [self = shared_from_this()] { self->Pump(); };
    }
  }
  SourceExecutor executor = job != nullptr ? executor_ : nullptr;
  const SourcePace pace = pace_;
  lock.unlock();
  if (job != nullptr) executor(std::move(job), pace);
}

namespace {

// The first `read` bytes of `blocks` in netascii, held in `encoded`.
absl::string_view EncodeNetascii(tftp::NetasciiEncoder& encoder,
                                 const std::vector<uint8_t>& blocks,
                                 size_t read, std::vector<uint8_t>& encoded) {
  encoded.resize(2 * read);
  const tftp::NetasciiEncoder::Progress p = encoder.Encode(
      absl::MakeConstSpan(blocks.data(), read), absl::MakeSpan(encoded));
  return absl::string_view(reinterpret_cast<const char*>(encoded.data()),
                           p.produced);
}

}  // namespace

void ResponseStream::Pump() {
  std::vector<uint8_t> blocks;  // Netascii: the source's bytes, to encode.
  std::vector<uint8_t> encoded;
  tftp::NetasciiEncoder encoder;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!state_.complete && !state_.failed && !subscribers_.empty() &&
         state_.available < WantedLocked()) {
    // Whole blocks up to the read-ahead, in one call to the source.
    const size_t size = block_size_;
    const uint64_t missing =
        std::min(WantedLocked() - state_.available, read_ahead_);
    const size_t count = std::min(
        blocks_per_call_, static_cast<size_t>((missing + size - 1) / size));
    const bool netascii = netascii_;
    // Plain bytes are read straight into the ring (mapped once a reader is
    // attached) past `available`, where no reader looks until they are
    // published; it has room for the read-ahead and the block read past it.
    // Netascii is read aside and encoded into it.
    absl::Span<uint8_t> into;
    if (!netascii) {
      into = absl::MakeSpan(const_cast<uint8_t*>(At(state_.available)),
                            count * size);
    }
    lock.unlock();
    if (netascii) {
      blocks.resize(count * size);
      into = absl::MakeSpan(blocks);
    }
    const auto started = std::chrono::steady_clock::now();
    absl::StatusOr<size_t> filled = source_->ReadBlocks(into, size);
    const auto took = std::chrono::steady_clock::now() - started;
    const size_t read = filled.ok() ? std::min(*filled, into.size()) : 0;
    const absl::string_view encoded_bytes =
        filled.ok() && netascii ? EncodeNetascii(encoder, blocks, read, encoded)
                                : absl::string_view();
    lock.lock();
    LearnPaceLocked(took, count);
    if (!filled.ok()) {
      FailLocked(tftp::ErrorCode::kNotDefined, filled.status().message().empty()
                                                   ? "response source failed"
                                                   : filled.status().message());
      break;
    }
    if (netascii) {
      if (!AppendLocked(encoded_bytes, read)) break;
    } else {
      if (!AdmitLocked(read, read)) break;
      PublishLocked(read);
    }
    if (read < into.size()) {
      FinishLocked();
      break;
    }
    // A slow source's next block is a job of its own, queued behind the
    // other slow sources' (RunDue posts it while it is still wanted).
    if (pace_ == SourcePace::kSlow) break;
  }
  pumping_ = false;
  RunDue(lock);
}

void ResponseStream::LearnPaceLocked(std::chrono::steady_clock::duration took,
                                     size_t blocks) {
  pace_ = took > kSlowRead * static_cast<int64_t>(std::max<size_t>(blocks, 1))
              ? SourcePace::kSlow
              : SourcePace::kFast;
  // Calls grow while they stay short, so that a fast source pays a call's
  // cost (Python's GIL) once for many blocks, and shrink when they do not.
  constexpr size_t kMostBlocksPerCall = 1024;
  blocks_per_call_ = took < kSlowRead
                         ? std::min(2 * blocks_per_call_, kMostBlocksPerCall)
                         : std::max<size_t>(1, blocks_per_call_ / 2);
}

}  // namespace tftpd
