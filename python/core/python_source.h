// A Python response (fbtftp's ResponseData, in the package's _Reader) as a
// ResponseSource: read(n) and close() are called on the server's source
// threads with the GIL held only for the calls.
#ifndef TFTPD_PYTHON_CORE_PYTHON_SOURCE_H_
#define TFTPD_PYTHON_CORE_PYTHON_SOURCE_H_

#include <pybind11/pybind11.h>

#include <string>

#include "server/api/response_source.h"

namespace tftpd::python {

class PythonSource final : public ResponseSource {
 public:
  // `reader` has `data` (with read(n) -> bytes-like), failed(exception),
  // told what read raised, oversized(asked, given), told once that read
  // gave more than asked, and close().
  explicit PythonSource(pybind11::object reader) : reader_(std::move(reader)) {}
  ~PythonSource() override;

  absl::StatusOr<size_t> Read(absl::Span<uint8_t> buffer) override;
  // The blocks under one hold of the GIL, with one lookup of read.
  absl::StatusOr<size_t> ReadBlocks(absl::Span<uint8_t> buffer,
                                    size_t block_size) override;
  // Calls close() and lets go of the object, so that the last reference
  // is never dropped on a thread without the GIL.
  void Close() override;

 private:
  // Hands what read raised to the reader; fbtftp's words for the client.
  absl::Status Failed(const pybind11::error_already_set& error);

  pybind11::object reader_;  // Touched only with the GIL held.
  pybind11::object read_;    // reader_.data.read, during ReadBlocks.
  // What a read() gave beyond what it was asked: the next blocks' first
  // bytes (fbtftp would send an oversized DATA, which clients refuse).
  std::string surplus_;
  bool surplus_told_ = false;  // reader_.oversized was called.
};

}  // namespace tftpd::python

#endif  // TFTPD_PYTHON_CORE_PYTHON_SOURCE_H_
