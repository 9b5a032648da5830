#include "python/core/python_handler.h"

#include "python/core/gil.h"
#include "python/core/python_reference.h"
#include "python/core/python_source.h"
#include "server/api/worker_pool.h"

namespace py = pybind11;

namespace tftpd::python {

void Responder::SetRetryPolicy(int retries, double timeout_seconds,
                               bool backoff) {
  RetryPolicy policy;
  policy.retries = retries;
  policy.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  policy.backoff = backoff;
  writer_.SetRetryPolicy(policy);
}

void Responder::Begin(py::object data, std::optional<uint64_t> size) {
  // fbtftp's size() is what tsize announces, not a promise: the response
  // ends where read() does (the package logs a difference).
  writer_.BeginPull(std::make_shared<PythonSource>(std::move(data)), size,
                    SizePromise::kEstimate);
}

void Responder::Fail(int code, const std::string& message) {
  writer_.Fail(static_cast<tftp::ErrorCode>(code), message);
}

void Responder::Drop() { writer_.Drop(); }

void Responder::SetSession(py::object session) {
  writer_.SetSession(std::make_shared<PythonReference>(std::move(session)));
}

PythonHandler::PythonHandler(py::object dispatch, int threads,
                             size_t max_waiting)
    : dispatch_(std::move(dispatch)), max_waiting_(max_waiting) {
  pool_ = std::make_unique<WorkerPool<Job>>(
      threads, [this](Job& job) { Run(job); },
      [](Job& job) {
        // Never decided: its transfer ends as the writer goes.
        job.responder.reset();
      });
}

PythonHandler::~PythonHandler() { Shutdown(); }

void PythonHandler::Shutdown() { pool_.reset(); }

Response PythonHandler::Handle(const RequestContext& request) {
  // On a shard: no Python here, only the hand-over.
  auto [stream, writer] = ResponseStream::Create();
  Job job{std::make_unique<Responder>(request, std::move(writer))};
  if (pool_ == nullptr || !pool_->TryPost(job, max_waiting_)) {
    refused_busy_.fetch_add(1);
    return Response::Refuse(tftp::ErrorCode::kNotDefined, "server busy");
  }
  return Response::Stream(std::move(stream));
}

void PythonHandler::Run(Job& job) {
  Gil gil;
  try {
    // Python holds the responder only for the call; the package answers
    // before returning (begin, fail or drop).
    py::object responder =
        py::cast(job.responder.get(), py::return_value_policy::reference);
    dispatch_(responder);
  } catch (const py::error_already_set& e) {
    // The package's dispatch catches the handler's exceptions; this is
    // its own failure.
    job.responder->Fail(0, "handler failed");
  }
  job.responder.reset();  // Unanswered: the writer's end fails the stream.
}

}  // namespace tftpd::python
