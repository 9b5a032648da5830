// The C++ side of a Python server: each request becomes a stream whose
// answer a Python function decides on a pool of the handler's own threads
// (never a shard's), so that handlers may block on a database or an API.
#ifndef TFTPD_PYTHON_CORE_PYTHON_HANDLER_H_
#define TFTPD_PYTHON_CORE_PYTHON_HANDLER_H_

#include <pybind11/pybind11.h>

#include <atomic>
#include <memory>

#include "server/api/request_handler.h"
#include "server/api/response_stream.h"

namespace tftpd {
template <typename Job>
class WorkerPool;
}

namespace tftpd::python {

// What Python is handed with each request: the request, and the one way to
// answer it. Every method may be called once; the first wins.
class Responder {
 public:
  Responder(RequestContext context, StreamWriter writer)
      : context_(std::move(context)), writer_(std::move(writer)) {}
  const RequestContext& context() const { return context_; }
  // Before begin: this request's retransmissions, their first wait, and
  // whether each doubles it (RetryPolicy).
  void SetRetryPolicy(int retries, double timeout_seconds, bool backoff);
  // The response: `data` is read (read(n), close()) as the client
  // acknowledges; `size` (None: unknown) is announced for tsize, and
  // not enforced (SizePromise::kEstimate).
  void Begin(pybind11::object data, std::optional<uint64_t> size);
  void Fail(int code, const std::string& message);
  void Drop();
  // Before begin: what the request's statistics record carries back
  // (its "session"), kept until then by the engine, not by Python.
  void SetSession(pybind11::object session);

 private:
  RequestContext context_;
  StreamWriter writer_;
};

class PythonHandler final : public RequestHandler {
 public:
  // `dispatch(responder)` runs on one of `threads` threads with the GIL;
  // at most `max_waiting` requests wait for a thread (more are refused).
  PythonHandler(pybind11::object dispatch, int threads, size_t max_waiting);
  ~PythonHandler() override;  // Call with the GIL released.

  Response Handle(const RequestContext& request) override;
  // fbtftp hands requests in any mode to get_handler (the package answers
  // ERROR 4 for those it does not transfer in).
  bool SeesUnsupportedModes() const override { return true; }
  // Requests refused because max_waiting waited already.
  uint64_t refused_busy() const { return refused_busy_.load(); }
  // Before the interpreter lets go of `dispatch`: no job runs after this.
  void Shutdown();

 private:
  struct Job {
    std::unique_ptr<Responder> responder;
  };
  void Run(Job& job);

  pybind11::object dispatch_;
  size_t max_waiting_;
  std::atomic<uint64_t> refused_busy_{0};
  std::unique_ptr<WorkerPool<Job>> pool_;
};

}  // namespace tftpd::python

#endif  // TFTPD_PYTHON_CORE_PYTHON_HANDLER_H_
