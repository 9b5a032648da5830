// A response whose bytes arrive over time, from any thread: a file fetched
// from an HTTP origin, a config rendered after a database lookup. Transfers
// send straight from its buffer, which never moves: the bytes live in address
// space reserved up front (max_size) and committed as they arrive, so a
// pointer into them stays valid while more are appended. Any number of
// transfers, on any shards, may read one stream (a boot storm fetching the
// same kernel); a shard is told of progress through a subscription and never
// waits for the producer.
//
// The producer holds the StreamWriter. Until it calls Begin (the size, when
// known, for tsize), Append or Finish, a transfer waits without answering;
// Fail before any of them refuses the request with the given TFTP error, and
// after, ends transfers with it. A writer destroyed unfinished fails the
// stream ("response source ended unfinished"), so a producer that is thrown
// away cannot leave clients waiting.
#ifndef TFTPD_SERVER_API_RESPONSE_STREAM_H_
#define TFTPD_SERVER_API_RESPONSE_STREAM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocol/tftp.h"

namespace tftpd {

class StreamWriter;

class ResponseStream {
 public:
  // The stream and the writer that feeds it. `max_size` bounds the response
  // (an Append past it fails the stream); only what is appended uses memory.
  static std::pair<std::shared_ptr<ResponseStream>, StreamWriter> Create(
      uint64_t max_size = uint64_t{4} << 30);
  ~ResponseStream();
  ResponseStream(const ResponseStream&) = delete;
  ResponseStream& operator=(const ResponseStream&) = delete;

  struct State {
    bool begun = false;     // Begin, Append or Finish was called.
    bool complete = false;  // Finish: `available` is the whole response.
    bool failed = false;
    uint64_t available = 0;        // Bytes readable at data().
    std::optional<uint64_t> size;  // Announced by Begin.
    tftp::ErrorCode error_code = tftp::ErrorCode::kNotDefined;
    std::string error_message;
  };
  State state() const;
  // The first state().available bytes are readable and never change.
  const uint8_t* data() const { return data_; }
  uint64_t max_size() const { return max_size_; }

  // `on_change` runs (on the producer's thread, under the stream's lock:
  // it must only queue work) when the state changes after this call, at
  // most once until the subscriber calls Acknowledge.
  uint64_t Subscribe(std::function<void()> on_change);
  // The state, re-arming the subscriber's notification.
  State Acknowledge(uint64_t subscription);
  // After this returns, the subscriber's callback never runs again.
  void Unsubscribe(uint64_t subscription);

 private:
  friend class StreamWriter;
  explicit ResponseStream(uint64_t max_size);
  bool Commit(uint64_t end);  // Makes [0, end) writable.
  void NotifyLocked();
  bool Begin(std::optional<uint64_t> size);
  bool Append(absl::string_view bytes);
  bool Finish();
  void Fail(tftp::ErrorCode code, absl::string_view message);

  struct Subscriber {
    uint64_t id;
    std::function<void()> on_change;
    bool notified;
  };

  uint64_t max_size_;
  uint8_t* data_ = nullptr;
  uint64_t reserved_ = 0;
  uint64_t committed_ = 0;
  mutable std::mutex mutex_;
  State state_;  // Guarded by mutex_.
  std::vector<Subscriber> subscribers_;
  uint64_t next_subscription_ = 1;
};

// The producer's handle; movable, not copyable. Every call may come from any
// thread; each returns false once the stream has ended (finished or failed),
// after which nothing more is accepted.
class StreamWriter {
 public:
  StreamWriter() = default;
  StreamWriter(StreamWriter&& other) noexcept;
  StreamWriter& operator=(StreamWriter&& other) noexcept;
  ~StreamWriter();

  // The response is ready to be sent; `size` (when known) is announced to
  // clients that ask for tsize, and the stream fails if it ends at another.
  bool Begin(std::optional<uint64_t> size = std::nullopt);
  bool Append(absl::string_view bytes);
  bool Finish();
  // Refuses the request (before Begin) or ends the transfers reading it.
  void Fail(tftp::ErrorCode code, absl::string_view message);
  // No transfer or other holder reads the stream any more: the producer may
  // stop early.
  bool abandoned() const;

 private:
  friend class ResponseStream;
  explicit StreamWriter(std::shared_ptr<ResponseStream> stream)
      : stream_(std::move(stream)) {}
  std::shared_ptr<ResponseStream> stream_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_RESPONSE_STREAM_H_
