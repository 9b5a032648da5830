#include "python/core/python_source.h"

#include <cstring>

#include "absl/status/status.h"
#include "python/core/gil.h"

namespace py = pybind11;

namespace tftpd::python {

PythonSource::~PythonSource() {
  if (!reader_ || !Py_IsInitialized()) {
    reader_.release();  // The interpreter is gone: nothing to drop.
    read_.release();
    return;
  }
  Gil gil;
  read_ = py::object();
  reader_ = py::object();
}

absl::Status PythonSource::Failed(const py::error_already_set& error) {
  try {
    reader_.attr("failed")(error.value());
  } catch (const py::error_already_set&) {
    // The log failed too; the client is told all the same.
  }
  return absl::UnknownError("Error while reading from source");
}

absl::StatusOr<size_t> PythonSource::ReadBlocks(absl::Span<uint8_t> buffer,
                                                size_t block_size) {
  Gil gil;  // Read takes it again: a count, not a wait.
  if (!reader_) return absl::FailedPreconditionError("response data closed");
  try {
    // Looked up once for the blocks, not per block: no name made, hashed
    // and looked up for each of a response's thousands of reads.
    read_ = reader_.attr("data").attr("read");
  } catch (const py::error_already_set& error) {
    return Failed(error);
  }
  absl::StatusOr<size_t> filled =
      ResponseSource::ReadBlocks(buffer, block_size);
  read_ = py::object();
  return filled;
}

absl::StatusOr<size_t> PythonSource::Read(absl::Span<uint8_t> buffer) {
  if (!surplus_.empty()) {
    const size_t n = std::min(buffer.size(), surplus_.size());
    std::memcpy(buffer.data(), surplus_.data(), n);
    surplus_.erase(0, n);
    return n;
  }
  Gil gil;
  if (!reader_) return absl::FailedPreconditionError("response data closed");
  try {
    // The data's own read, called from here: no Python frame of the
    // package's between, once per block.
    py::object read = read_ ? read_ : reader_.attr("data").attr("read");
    py::object chunk = read(buffer.size());
    if (chunk.is_none()) return 0;
    Py_buffer view;
    if (PyObject_GetBuffer(chunk.ptr(), &view, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      return absl::InvalidArgumentError(
          "ResponseData.read returned something other than bytes");
    }
    const size_t given = static_cast<size_t>(view.len);
    const size_t n = std::min(buffer.size(), given);
    std::memcpy(buffer.data(), view.buf, n);
    if (given > n) {
      surplus_.assign(static_cast<const char*>(view.buf) + n, given - n);
    }
    PyBuffer_Release(&view);
    if (given > n && !surplus_told_) {
      surplus_told_ = true;
      reader_.attr("oversized")(buffer.size(), given);
    }
    return n;
  } catch (const py::error_already_set& error) {
    return Failed(error);
  }
}

void PythonSource::Close() {
  Gil gil;
  if (!reader_) return;
  try {
    reader_.attr("close")();
  } catch (const py::error_already_set&) {
    // The package logs it; the transfer is over either way.
  }
  read_ = py::object();
  reader_ = py::object();
}

}  // namespace tftpd::python
