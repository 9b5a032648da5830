#include "server/api/response_stream.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tftpd {
namespace {

// Address space is committed in steps of this much: few mprotect calls, and
// never more than one step of memory beyond what was appended.
constexpr uint64_t kCommitStep = 1 << 20;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

std::pair<std::shared_ptr<ResponseStream>, StreamWriter> ResponseStream::Create(
    uint64_t max_size) {
  std::shared_ptr<ResponseStream> stream(new ResponseStream(max_size));
  return {stream, StreamWriter(stream)};
}

ResponseStream::ResponseStream(uint64_t max_size) : max_size_(max_size) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t reserve = RoundUp(max_size, page);
  if (reserve == 0) return;
  // Reserved, not yet usable: PROT_NONE takes no memory and, under strict
  // overcommit, no commit charge until Commit makes a part writable.
  void* p = mmap(nullptr, reserve, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    state_.failed = true;
    state_.error_message = "out of address space for the response";
    return;
  }
  data_ = static_cast<uint8_t*>(p);
  reserved_ = reserve;
}

ResponseStream::~ResponseStream() {
  // Last resort: no engine ever held the stream with its source threads.
  if (source_ != nullptr && !source_closed_) source_->Close();
  if (data_ != nullptr) munmap(data_, reserved_);
  if (ring_ != nullptr) munmap(ring_, 2 * ring_size_);
}

bool ResponseStream::Commit(uint64_t end) {
  if (end <= committed_) return true;
  const uint64_t target = std::min(
      reserved_, RoundUp(std::max(end, committed_ + kCommitStep), kCommitStep));
  if (mprotect(data_ + committed_, target - committed_,
               PROT_READ | PROT_WRITE) != 0) {
    return false;
  }
  committed_ = target;
  return true;
}

void ResponseStream::NotifyLocked() {
  for (Subscriber& s : subscribers_) {
    if (s.notified) continue;
    s.notified = true;
    s.on_change();
  }
}

ResponseStream::State ResponseStream::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

uint64_t ResponseStream::Subscribe(std::function<void()> on_change,
                                   SourceExecutor executor) {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t id = next_subscription_++;
  subscribers_.push_back(Subscriber{id, std::move(on_change), false});
  if (executor_ == nullptr) executor_ = std::move(executor);
  return id;
}

ResponseStream::State ResponseStream::Acknowledge(uint64_t subscription) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Subscriber& s : subscribers_) {
    if (s.id == subscription) s.notified = false;
  }
  return state_;
}

void ResponseStream::Unsubscribe(uint64_t subscription) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::erase_if(subscribers_,
                [&](const Subscriber& s) { return s.id == subscription; });
  RunDue(lock);
}

bool ResponseStream::Begin(std::optional<uint64_t> size) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.complete || state_.failed) return false;
  if (state_.begun) return true;
  if (size.has_value() && *size > max_size_) {
    state_.failed = true;
    state_.error_message = "response larger than this server sends";
    NotifyLocked();
    return false;
  }
  state_.begun = true;
  state_.size = size;
  NotifyLocked();
  return true;
}

bool ResponseStream::Append(absl::string_view bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.pulled) return false;  // Its source writes it.
  return AppendLocked(bytes, bytes.size());
}

bool ResponseStream::AppendLocked(absl::string_view bytes,
                                  uint64_t source_bytes) {
  if (!AdmitLocked(bytes.size(), source_bytes)) return false;
  if (!bytes.empty()) {
    // Into the ring (bytes.size() is at most its size; the second mapping
    // takes what passes its end), or the reserved space.
    std::memcpy(const_cast<uint8_t*>(At(state_.available)), bytes.data(),
                bytes.size());
  }
  PublishLocked(bytes.size());
  return true;
}

bool ResponseStream::AdmitLocked(uint64_t size, uint64_t source_bytes) {
  if (state_.complete || state_.failed) return false;
  const uint64_t end = state_.available + size;
  source_bytes_ += source_bytes;
  const char* problem = nullptr;
  if (end > max_size_) {
    problem = "response larger than this server sends";
  } else if (SizeBindsLocked() && source_bytes_ > *state_.size) {
    problem = "response source sent more than the size it announced";
  } else if (ring_size_ == 0 && !Commit(end)) {
    problem = "out of memory for the response";
  }
  if (problem != nullptr) {
    state_.failed = true;
    state_.error_message = problem;
    NotifyLocked();
    return false;
  }
  return true;
}

void ResponseStream::PublishLocked(uint64_t size) {
  state_.available += size;
  state_.begun = true;
  NotifyLocked();
}

bool ResponseStream::Finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.pulled) return false;
  return FinishLocked();
}

bool ResponseStream::FinishLocked() {
  if (state_.complete || state_.failed) return false;
  if (SizeBindsLocked() && source_bytes_ != *state_.size) {
    state_.failed = true;
    state_.error_message =
        absl::StrCat("response source ended at ", source_bytes_,
                     " bytes of the ", *state_.size, " it announced");
    NotifyLocked();
    return false;
  }
  state_.begun = true;
  state_.complete = true;
  NotifyLocked();
  return true;
}

void ResponseStream::Fail(tftp::ErrorCode code, absl::string_view message) {
  std::unique_lock<std::mutex> lock(mutex_);
  FailLocked(code, message);
  RunDue(lock);
}

void ResponseStream::Drop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.begun || state_.failed) return;
  state_.dropped = true;
  FailLocked(tftp::ErrorCode::kNotDefined, "dropped");
}

bool ResponseStream::SetRetryPolicy(const RetryPolicy& retry) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_.begun || state_.failed) return false;
  state_.retry = retry;
  return true;
}

bool ResponseStream::SetSession(std::shared_ptr<void> session) {
  std::lock_guard<std::mutex> lock(mutex_);
  session_ = std::move(session);
  return true;
}

std::shared_ptr<void> ResponseStream::TakeSession() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::move(session_);
}

void ResponseStream::FailLocked(tftp::ErrorCode code,
                                absl::string_view message) {
  if (state_.complete || state_.failed) return;
  state_.failed = true;
  state_.error_code = code;
  state_.error_message = std::string(message);
  NotifyLocked();
}

StreamWriter::StreamWriter(StreamWriter&& other) noexcept
    : stream_(std::move(other.stream_)) {}

StreamWriter& StreamWriter::operator=(StreamWriter&& other) noexcept {
  if (this != &other) {
    if (stream_ != nullptr) {
      stream_->Fail(tftp::ErrorCode::kNotDefined,
                    "response source ended unfinished");
    }
    stream_ = std::move(other.stream_);
  }
  return *this;
}

StreamWriter::~StreamWriter() {
  // Does nothing to a stream that finished or failed already.
  if (stream_ != nullptr) {
    stream_->Fail(tftp::ErrorCode::kNotDefined,
                  "response source ended unfinished");
  }
}

bool StreamWriter::Begin(std::optional<uint64_t> size) {
  return stream_ != nullptr && stream_->Begin(size);
}
bool StreamWriter::Append(absl::string_view bytes) {
  return stream_ != nullptr && stream_->Append(bytes);
}
bool StreamWriter::Finish() { return stream_ != nullptr && stream_->Finish(); }
void StreamWriter::Fail(tftp::ErrorCode code, absl::string_view message) {
  if (stream_ != nullptr) stream_->Fail(code, message);
}
bool StreamWriter::BeginPull(std::shared_ptr<ResponseSource> source,
                             std::optional<uint64_t> size,
                             SizePromise promise) {
  if (stream_ == nullptr || source == nullptr) return false;
  const bool begun = stream_->BeginPull(std::move(source), size, promise);
  stream_.reset();  // The source feeds it from now on.
  return begun;
}
void StreamWriter::Drop() {
  if (stream_ != nullptr) stream_->Drop();
}
bool StreamWriter::SetRetryPolicy(const RetryPolicy& retry) {
  return stream_ != nullptr && stream_->SetRetryPolicy(retry);
}
bool StreamWriter::SetSession(std::shared_ptr<void> session) {
  return stream_ != nullptr && stream_->SetSession(std::move(session));
}
bool StreamWriter::abandoned() const {
  return stream_ == nullptr || stream_.use_count() == 1;
}

}  // namespace tftpd
