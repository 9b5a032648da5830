// The GIL, taken from a thread Python did not start (the engine's source,
// handler and statistics threads). pybind11 gives such a thread a fresh
// thread state on every acquisition and frees it on release, and Python
// 3.11 maps a new frame stack for each: a map and unmap per call, which
// halved throughput when every block read called Python. Each thread keeps
// its first thread state instead. Taking it also releases the Python
// references let go of without it (python_reference.h).
#ifndef TFTPD_PYTHON_CORE_GIL_H_
#define TFTPD_PYTHON_CORE_GIL_H_

#include <pybind11/pybind11.h>

#include "python/core/python_reference.h"

namespace tftpd::python {

class Gil {
 public:
  Gil() {
    thread_local bool kept = false;
    if (!kept) {
      acquired_.inc_ref();  // Never freed: reused by this thread's next Gil.
      kept = true;
    }
    ReleaseDeferredReferences();
  }

 private:
  pybind11::gil_scoped_acquire acquired_;
};

}  // namespace tftpd::python

#endif  // TFTPD_PYTHON_CORE_GIL_H_
