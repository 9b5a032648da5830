#include "python/core/python_reference.h"

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace tftpd::python {
namespace {

// One entry per reference let go of without the GIL: bounded by the
// references the engine holds, and emptied by the next Gil.
std::mutex deferred_mutex;
std::vector<PyObject*> deferred;  // Guarded by deferred_mutex.
std::atomic<bool> any_deferred{false};

}  // namespace

PythonReference::~PythonReference() {
  if (object_ == nullptr) return;
  // Always deferred, even where the GIL may be held: asking Python whether
  // it is would itself be a call into Python on a shard.
  std::lock_guard<std::mutex> lock(deferred_mutex);
  deferred.push_back(object_);
  any_deferred.store(true, std::memory_order_release);
}

pybind11::object PythonReference::Take() {
  PyObject* object = std::exchange(object_, nullptr);
  if (object == nullptr) return pybind11::none();
  return pybind11::reinterpret_steal<pybind11::object>(object);
}

void ReleaseDeferredReferences() {
  if (!any_deferred.load(std::memory_order_acquire)) return;
  std::vector<PyObject*> objects;
  {
    std::lock_guard<std::mutex> lock(deferred_mutex);
    objects.swap(deferred);
    any_deferred.store(false, std::memory_order_relaxed);
  }
  for (PyObject* object : objects) Py_DECREF(object);
}

}  // namespace tftpd::python
