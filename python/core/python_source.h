// A Python file-like object (fbtftp's ResponseData) as a ResponseSource:
// read(n) and close() are called on the server's source threads with the
// GIL held only for the call.
#ifndef TFTPD_PYTHON_CORE_PYTHON_SOURCE_H_
#define TFTPD_PYTHON_CORE_PYTHON_SOURCE_H_

#include <pybind11/pybind11.h>

#include "server/api/response_source.h"

namespace tftpd::python {

class PythonSource final : public ResponseSource {
 public:
  // `data` has read(n) -> bytes-like and close().
  explicit PythonSource(pybind11::object data) : data_(std::move(data)) {}
  ~PythonSource() override;

  absl::StatusOr<size_t> Read(absl::Span<uint8_t> buffer) override;
  // The blocks under one hold of the GIL.
  absl::StatusOr<size_t> ReadBlocks(absl::Span<uint8_t> buffer,
                                    size_t block_size) override;
  // Calls close() and lets go of the object, so that the last reference
  // is never dropped on a thread without the GIL.
  void Close() override;

 private:
  pybind11::object data_;  // Touched only with the GIL held.
};

}  // namespace tftpd::python

#endif  // TFTPD_PYTHON_CORE_PYTHON_SOURCE_H_
