#include "python/core/python_source.h"

#include <cstring>

#include "absl/status/status.h"
#include "python/core/gil.h"

namespace py = pybind11;

namespace tftpd::python {

PythonSource::~PythonSource() {
  if (!data_ || !Py_IsInitialized()) {
    data_.release();  // The interpreter is gone: nothing to drop.
    return;
  }
  Gil gil;
  data_ = py::object();
}

absl::StatusOr<size_t> PythonSource::ReadBlocks(absl::Span<uint8_t> buffer,
                                                size_t block_size) {
  Gil gil;  // Read takes it again: a count, not a wait.
  return ResponseSource::ReadBlocks(buffer, block_size);
}

absl::StatusOr<size_t> PythonSource::Read(absl::Span<uint8_t> buffer) {
  Gil gil;
  if (!data_) return absl::FailedPreconditionError("response data closed");
  try {
    py::object chunk = data_.attr("read")(buffer.size());
    if (chunk.is_none()) return 0;
    Py_buffer view;
    if (PyObject_GetBuffer(chunk.ptr(), &view, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      return absl::InvalidArgumentError(
          "ResponseData.read returned something other than bytes");
    }
    const size_t n = std::min(buffer.size(), static_cast<size_t>(view.len));
    std::memcpy(buffer.data(), view.buf, n);
    PyBuffer_Release(&view);
    return n;
  } catch (const py::error_already_set&) {
    // fbtftp's words to the client; the package logged the exception.
    return absl::UnknownError("Error while reading from source");
  }
}

void PythonSource::Close() {
  Gil gil;
  if (!data_) return;
  try {
    data_.attr("close")();
  } catch (const py::error_already_set&) {
    // The package logs it; the transfer is over either way.
  }
  data_ = py::object();
}

}  // namespace tftpd::python
