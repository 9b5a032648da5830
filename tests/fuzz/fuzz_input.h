// Reading a fuzz input as a sequence of small decisions: bytes, 16-bit
// numbers, runs of raw bytes; past its end everything reads as zero.
#ifndef TFTPD_TESTS_FUZZ_FUZZ_INPUT_H_
#define TFTPD_TESTS_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t U16() { return static_cast<uint16_t>(Byte() << 8 | Byte()); }
  // Up to `n` bytes, fewer at the end of the input.
  absl::Span<const uint8_t> Bytes(size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    absl::Span<const uint8_t> out(data_ + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

#endif  // TFTPD_TESTS_FUZZ_FUZZ_INPUT_H_
