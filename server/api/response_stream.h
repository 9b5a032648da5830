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
//
// A pulled stream (StreamWriter::BeginPull) is fed by a ResponseSource
// instead: the engine tells it each reader's block size and how far the
// reader has been acknowledged, and the stream reads the source on a source
// thread only up to a read-ahead beyond that, into a ring the size of the
// read-ahead: its memory is the read-ahead, not the response, and pages are
// reused, never faulted in again. Netascii is encoded as it is read.
#ifndef TFTPD_SERVER_API_RESPONSE_STREAM_H_
#define TFTPD_SERVER_API_RESPONSE_STREAM_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "protocol/tftp.h"
#include "server/api/response_source.h"

namespace tftpd {

class StreamWriter;

// A request's own retransmission settings, replacing ServerConfig::transfer's
// (fbtftp's per-request `retries` and `default_timeout`): unset keeps them.
struct RetryPolicy {
  std::optional<int> retries;  // Retransmissions before giving up.
  // Wait before the first retransmission when the client asked no timeout.
  std::optional<std::chrono::milliseconds> timeout;
  // False: every wait is the first one (fbtftp's fixed timeout), where by
  // default each retransmission doubles it (TransferConfig::max_timeout).
  std::optional<bool> backoff;
};

// What a size given to BeginPull promises: the response's exact length (a
// stream ending at another fails), or an estimate, only announced (tsize)
// and never enforced, as fbtftp treats ResponseData.size().
enum class SizePromise { kExact, kEstimate };

class ResponseStream : public std::enable_shared_from_this<ResponseStream> {
 public:
  // Pulled streams: a source taking longer than this per block is slow
  // (SourcePace::kSlow), and a call to it lasts about this long at most.
  static constexpr std::chrono::milliseconds kSlowRead{10};

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
    // Failed without a word: the request is dropped, as if never received.
    bool dropped = false;
    bool pulled = false;           // BeginPull: a ResponseSource feeds it.
    uint64_t available = 0;        // Bytes readable at data().
    std::optional<uint64_t> size;  // Announced by Begin.
    bool size_estimated = false;   // SizePromise::kEstimate.
    tftp::ErrorCode error_code = tftp::ErrorCode::kNotDefined;
    std::string error_message;
    RetryPolicy retry;
  };
  State state() const;
  // The first state().available bytes are readable and never change.
  // Not for pulled streams, whose bytes are read with At.
  const uint8_t* data() const { return data_; }
  // Byte `offset` of the response, readable with the `block_size` bytes
  // after it: for a pulled stream, in its ring (valid from the least
  // acknowledged reader's position to state().available), else at data().
  const uint8_t* At(uint64_t offset) const {
    return ring_size_ != 0 ? ring_ + offset % ring_size_ : data_ + offset;
  }
  // Pulled streams: the bytes of memory their ring holds (0 before a reader
  // attached).
  uint64_t ring_size() const { return ring_size_; }
  uint64_t max_size() const { return max_size_; }

  // `on_change` runs (on the producer's thread, under the stream's lock:
  // it must only queue work) when the state changes after this call, at
  // most once until the subscriber calls Acknowledge.
  // `executor` runs a pulled stream's reads and its source's Close; every
  // subscriber of one stream gives the same (the server's source threads).
  uint64_t Subscribe(std::function<void()> on_change,
                     SourceExecutor executor = nullptr);
  // The state, re-arming the subscriber's notification.
  State Acknowledge(uint64_t subscription);
  // After this returns, the subscriber's callback never runs again.
  void Unsubscribe(uint64_t subscription);

  // Pulled streams: the subscriber reads in blocks of `block_size` and wants
  // up to `read_ahead` bytes beyond what it has been acknowledged; reading
  // starts. `netascii` encodes the source's bytes (then a size announced
  // counts the source's bytes and is not offered as tsize). False when
  // another reader read it already: a pulled stream serves one transfer.
  bool AttachReader(uint64_t subscription, size_t block_size,
                    uint64_t read_ahead, bool netascii);
  // The subscriber's client acknowledged the first `offset` bytes: nothing
  // before them is read again.
  void Consumed(uint64_t subscription, uint64_t offset);
  // The engine will not subscribe (the request was refused first): a
  // source not yet closed is closed through `executor`.
  void Abandon(const SourceExecutor& executor);

  // What the producer attached (StreamWriter::SetSession), once: the engine
  // moves it into the request's statistics record.
  std::shared_ptr<void> TakeSession();

 private:
  friend class StreamWriter;
  explicit ResponseStream(uint64_t max_size);
  bool Commit(uint64_t end);  // Makes [0, end) writable.
  void NotifyLocked();
  bool Begin(std::optional<uint64_t> size);
  bool BeginPull(std::shared_ptr<ResponseSource> source,
                 std::optional<uint64_t> size, SizePromise promise);
  // The size announced binds (SizePromise::kExact).
  bool SizeBindsLocked() const {
    return state_.size.has_value() && !state_.size_estimated;
  }
  bool Append(absl::string_view bytes);
  bool AppendLocked(absl::string_view bytes, uint64_t source_bytes);
  // The `size` bytes past `available` may be published (`source_bytes`
  // before netascii): false, and the stream failed, when not.
  bool AdmitLocked(uint64_t size, uint64_t source_bytes);
  // The `size` bytes written past `available` are readable.
  void PublishLocked(uint64_t size);
  bool Finish();
  bool FinishLocked();
  void Fail(tftp::ErrorCode code, absl::string_view message);
  void FailLocked(tftp::ErrorCode code, absl::string_view message);
  void Drop();
  bool SetRetryPolicy(const RetryPolicy& retry);
  bool SetSession(std::shared_ptr<void> session);

  // Pulled streams (response_stream_pull.cc).
  struct Subscriber {
    uint64_t id;
    std::function<void()> on_change;
    bool notified;
    bool reading = false;  // AttachReader was called.
    uint64_t consumed = 0;
  };
  // Where reading should have got to: the least acknowledged reader's
  // position plus the read-ahead; 0 when no reader is attached.
  uint64_t WantedLocked() const;
  // Starts a read job, or closes the source, when either is due.
  // Unlocks `lock`.
  void RunDue(std::unique_lock<std::mutex>& lock);
  void Pump();  // On a source thread.
  // A call of `took` that read up to `blocks` blocks: the pace and the
  // next call's blocks.
  void LearnPaceLocked(std::chrono::steady_clock::duration took, size_t blocks);
  // Maps the ring twice in a row, so that a block crossing its end reads
  // on; false when the kernel refuses.
  bool MapRing(uint64_t size);
  // The ring, once the stream is pulled and its reader attached (in either
  // order); the stream fails when it cannot be mapped.
  void MapRingLocked();

  std::shared_ptr<ResponseSource> source_;
  SourceExecutor executor_;
  bool pumping_ = false;
  // Learned from the source's reads (Pump): a slow source is read a block
  // per job, so that its transfer's end stops it within a read and slow
  // sources take turns on the threads; a fast one reads more blocks per
  // call while calls stay short.
  SourcePace pace_ = SourcePace::kUnproven;
  size_t blocks_per_call_ = 1;
  bool source_closed_ = false;
  bool ever_read_ = false;  // A reader was attached once.
  size_t block_size_ = 512;
  uint64_t read_ahead_ = 0;
  bool netascii_ = false;
  uint64_t source_bytes_ = 0;  // Read from the source (before netascii).
  uint8_t* ring_ = nullptr;    // Pulled streams: 2 x ring_size_ mapped.
  uint64_t ring_size_ = 0;

  uint64_t max_size_;
  uint8_t* data_ = nullptr;
  uint64_t reserved_ = 0;
  uint64_t committed_ = 0;
  mutable std::mutex mutex_;
  State state_;                    // Guarded by mutex_.
  std::shared_ptr<void> session_;  // Guarded by mutex_.
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
  // Instead of Begin: `source` supplies the bytes as clients acknowledge
  // them (response_source.h); this writer is done with the stream.
  bool BeginPull(std::shared_ptr<ResponseSource> source,
                 std::optional<uint64_t> size = std::nullopt,
                 SizePromise promise = SizePromise::kExact);
  // Refuses the request (before Begin) or ends the transfers reading it.
  void Fail(tftp::ErrorCode code, absl::string_view message);
  // Before Begin: no answer at all, as if the request never came.
  void Drop();
  // Before Begin: this request's own retransmission settings.
  bool SetRetryPolicy(const RetryPolicy& retry);
  // What the producer keeps for this request until its statistics record
  // (a handler object, say): the engine hands it over in the record
  // (TransferStats::session) and lets go of it, so that it is released
  // with the record, delivered or dropped, and never kept in a table that
  // a lost record would leave behind. Any time before BeginPull.
  bool SetSession(std::shared_ptr<void> session);
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
