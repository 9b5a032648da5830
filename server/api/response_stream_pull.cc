// Pulled streams: a ResponseSource read on the source threads only as far as
// the slowest reader's acknowledged position plus its read-ahead, with the
// memory of acknowledged bytes given back as the reader moves on.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "protocol/netascii.h"
#include "server/api/response_stream.h"

namespace tftpd {

bool ResponseStream::BeginPull(std::shared_ptr<ResponseSource> source,
                               std::optional<uint64_t> size) {
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
  }
  RunDue(lock);
  return true;
}

void ResponseStream::Consumed(uint64_t subscription, uint64_t offset) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (Subscriber& s : subscribers_) {
    if (s.id == subscription) s.consumed = std::max(s.consumed, offset);
  }
  ReleaseConsumedLocked();
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

void ResponseStream::ReleaseConsumedLocked() {
  uint64_t least = UINT64_MAX;
  for (const Subscriber& s : subscribers_) {
    if (s.reading) least = std::min(least, s.consumed);
  }
  if (least == UINT64_MAX) return;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  // Whole pages below every reader's position and already written.
  const uint64_t end = std::min(least, state_.available) / page * page;
  // In steps of the read-ahead (64 KiB at least): each call interrupts
  // every core the process runs on to flush its TLB, which, page by page,
  // cost more than sending the bytes.
  if (end < released_ + std::max<uint64_t>(read_ahead_, 64 << 10)) return;
  // The pages read back as zeros from here on; no reader reads them again
  // (a DATA block still being sent from one is one its client has).
  madvise(data_ + released_, end - released_, MADV_DONTNEED);
  released_ = end;
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
    } else if (state_.pulled && state_.available + read_ahead_ / 2 <
                                    WantedLocked()) {
      // Half the read-ahead is missing: one job reads it back full, so a
      // source thread wakes once per half read-ahead, not once per ACK.
      pumping_ = true;
      job = [self = shared_from_this()] { self->Pump(); };
    }
  }
  SourceExecutor executor = job != nullptr ? executor_ : nullptr;
  lock.unlock();
  if (job != nullptr) executor(std::move(job));
}

void ResponseStream::Pump() {
  std::vector<uint8_t> block;
  std::vector<uint8_t> encoded;
  tftp::NetasciiEncoder encoder;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!state_.complete && !state_.failed && !subscribers_.empty() &&
         state_.available < WantedLocked()) {
    const size_t size = block_size_;
    const bool netascii = netascii_;
    lock.unlock();
    // fbtftp's rule: a block is read until it is full or a read gives
    // nothing, which ends the response.
    block.resize(size);
    size_t filled = 0;
    absl::Status error;
    while (filled < size) {
      absl::StatusOr<size_t> n =
          source_->Read(absl::MakeSpan(block).subspan(filled));
      if (!n.ok()) {
        error = n.status();
        break;
      }
      if (*n == 0) break;
      filled += std::min(*n, size - filled);
    }
    absl::string_view bytes(reinterpret_cast<const char*>(block.data()),
                            filled);
    if (netascii) {
      encoded.resize(2 * filled);
      const tftp::NetasciiEncoder::Progress p = encoder.Encode(
          absl::MakeConstSpan(block.data(), filled), absl::MakeSpan(encoded));
      bytes = absl::string_view(reinterpret_cast<const char*>(encoded.data()),
                                p.produced);
    }
    lock.lock();
    if (!error.ok()) {
      FailLocked(tftp::ErrorCode::kNotDefined,
                 error.message().empty() ? "response source failed"
                                         : error.message());
      break;
    }
    if (!AppendLocked(bytes, filled)) break;
    if (filled < size) {
      FinishLocked();
      break;
    }
  }
  pumping_ = false;
  RunDue(lock);
}

}  // namespace tftpd
