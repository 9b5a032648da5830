// A Python object the engine's C++ holds (a handler, carried in its
// session's statistics record), released only with the GIL. Its last
// reference often goes on a thread that must not take the GIL (a shard
// dropping a record), so the release waits for the next thread that takes
// it through Gil (gil.h); a delivered record's is taken at once.
#ifndef TFTPD_PYTHON_CORE_PYTHON_REFERENCE_H_
#define TFTPD_PYTHON_CORE_PYTHON_REFERENCE_H_

#include <pybind11/pybind11.h>

namespace tftpd::python {

class PythonReference {
 public:
  explicit PythonReference(pybind11::object object)
      : object_(object.release().ptr()) {}
  ~PythonReference();
  PythonReference(const PythonReference&) = delete;
  PythonReference& operator=(const PythonReference&) = delete;

  // With the GIL: the object, which this lets go of (None after the first
  // call), so that a delivered record frees it at once.
  pybind11::object Take();

 private:
  PyObject* object_;
};

// With the GIL: releases what was let go of without it.
void ReleaseDeferredReferences();

}  // namespace tftpd::python

#endif  // TFTPD_PYTHON_CORE_PYTHON_REFERENCE_H_
