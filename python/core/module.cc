// tftpd._core: the engine for the Python package (python/tftpd/). A Server
// serves a socket the Python program bound, answers each request through a
// Python function on the handler's threads, and reports statistics to
// Python callbacks; the GIL is released whenever the engine works.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "python/core/gil.h"
#include "python/core/python_handler.h"
#include "python/core/python_reference.h"
#include "server/api/server.h"
#include "server/api/stats_callbacks.h"

namespace py = pybind11;

namespace tftpd::python {
namespace {

py::tuple Address(const io::SocketAddress& address) {
  return py::make_tuple(address.Unmapped().HostString(), address.port());
}

py::dict StatsDict(const TransferStats& s) {
  py::dict d;
  d["peer"] = Address(s.peer);
  d["server_address"] = Address(s.server_address);
  d["request_id"] = s.request_id;
  d["requested_path"] = s.requested_path;
  d["outcome"] = s.outcome;
  d["error_code"] = s.error_code;
  d["error_message"] = s.error_message;
  d["options_requested"] = s.options_requested;
  d["options_acknowledged"] = s.options_acknowledged;
  d["start_time"] =
      std::chrono::duration<double>(s.start_time.time_since_epoch()).count();
  d["duration"] = std::chrono::duration<double>(s.duration).count();
  d["packets_sent"] = s.packets_sent;
  d["packets_received"] = s.packets_received;
  d["blocks_acknowledged"] = s.blocks_acknowledged;
  d["bytes_sent"] = s.bytes_sent;
  d["bytes_acknowledged"] = s.bytes_acknowledged;
  d["retransmits"] = s.retransmits;
  d["blksize"] = s.blksize;
  d["windowsize"] = s.windowsize;
  // Only the package attaches sessions, and only PythonReferences. Taken,
  // so that it goes with this dict, not later with the record.
  d["session"] = s.session != nullptr
                     ? static_cast<PythonReference*>(s.session.get())->Take()
                     : py::none();
  return d;
}

py::dict TotalsDict(const ServerTotals& totals) {
  py::dict d;
  totals.ForEach([&](absl::string_view name, absl::string_view,
                     absl::string_view label, absl::string_view value,
                     uint64_t count, bool) {
    std::string key(name);
    if (!label.empty()) key += "_" + std::string(value);
    d[py::str(key)] = count;
  });
  return d;
}

// Calls a Python callback from an engine thread, with the GIL held, logging
// what it raises (a callback's failure must not stop the statistics).
template <typename... Args>
void CallPython(const py::object& fn, Args&&... args) {
  try {
    fn(std::forward<Args>(args)...);
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("tftpd statistics callback");
  }
}

class PyServer {
 public:
  PyServer(int fd, py::dict settings, py::object dispatch,
           py::object on_transfer_end, py::object on_server_stats)
      : on_transfer_end_(std::move(on_transfer_end)),
        on_server_stats_(std::move(on_server_stats)) {
    ServerConfig c;
    c.inherited_socket = dup(fd);
    if (c.inherited_socket < 0) throw std::runtime_error("cannot dup socket");
    // Handlers answer from Python; files are never served from here.
    c.root = settings["root"].cast<std::string>();
    c.threads = settings["threads"].cast<int>();
    c.source_threads = settings["source_threads"].cast<int>();
    c.max_transfers = settings["max_transfers"].cast<size_t>();
    c.shutdown_grace = std::chrono::milliseconds(
        static_cast<int64_t>(settings["shutdown_grace"].cast<double>() * 1000));
    c.transfer.max_retries = settings["retries"].cast<int>();
    if (!settings["retransmit_backoff"].cast<bool>()) {
      c.transfer.max_timeout = tftp::Duration::zero();  // Fixed waits.
    }
    c.transfer.timeout = std::chrono::milliseconds(
        static_cast<int64_t>(settings["timeout"].cast<double>() * 1000));
    c.stats_interval = std::chrono::milliseconds(
        static_cast<int64_t>(settings["stats_interval"].cast<double>() * 1000));
    c.max_queued_records = settings["max_queued_records"].cast<size_t>();
    c.limits.max_windowsize = settings["windowsize_max"].cast<uint16_t>();
    c.address_limits.max_transfers = 0;  // fbtftp has no such limit.
    handler_ = std::make_shared<PythonHandler>(
        std::move(dispatch), settings["handler_threads"].cast<int>(),
        settings["max_waiting_requests"].cast<size_t>());
    c.handler = handler_;
    if (!on_transfer_end_.is_none()) {
      c.on_transfer_end = [this](const TransferStats& stats) {
        Gil gil;
        CallPython(on_transfer_end_, StatsDict(stats));
      };
    }
    if (!on_server_stats_.is_none()) {
      c.on_server_stats = [this](const ServerStats& stats) {
        Gil gil;
        CallPython(on_server_stats_, TotalsDict(stats.totals));
      };
    }
    absl::StatusOr<std::unique_ptr<Server>> server;
    {
      py::gil_scoped_release release;
      server = Server::Create(std::move(c));
    }
    if (!server.ok())
      throw std::runtime_error(std::string(server.status().message()));
    server_ = std::move(*server);
  }

  ~PyServer() { Close(); }

  void Start() {
    absl::Status started;
    {
      py::gil_scoped_release release;
      started = server_->Start();
    }
    if (!started.ok()) throw std::runtime_error(std::string(started.message()));
  }

  // Stops taking requests, lets transfers finish (or not), and waits.
  void Stop(bool immediate) {
    if (server_ == nullptr) return;
    py::gil_scoped_release release;
    server_->Stop(immediate);
    server_->Wait();
  }

  bool Done() const { return server_ == nullptr || server_->Done(); }

  // Everything the engine runs is joined before the Python objects go.
  void Close() {
    if (server_ == nullptr) return;
    {
      py::gil_scoped_release release;
      server_->Stop(/*immediate=*/true);
      server_->Wait();
      {
        std::lock_guard<std::mutex> lock(server_mutex_);
        server_.reset();
      }
      handler_->Shutdown();
    }
    handler_.reset();
    ReleaseDeferredReferences();  // What the engine's threads let go of.
  }

  py::dict Totals() const {
    return server_ != nullptr ? TotalsDict(server_->Totals()) : py::dict();
  }
  // A datagram the program read itself (BaseServer.on_new_data): raises
  // ValueError for a source that is no address the server can answer,
  // RuntimeError when the engine cannot take it now.
  void Offer(py::bytes datagram, const std::string& host, int port) {
    std::optional<io::SocketAddress> source;
    if (port > 0 && port <= 65535) {
      source = io::SocketAddress::Parse(host, static_cast<uint16_t>(port));
    }
    if (!source.has_value()) {
      throw py::value_error("not an address: " + host + " port " +
                            std::to_string(port));
    }
    const std::string bytes = datagram;
    absl::Status offered;
    {
      // Without the GIL: dropping the server (Close) may need it.
      py::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(server_mutex_);
      offered = server_ == nullptr
                    ? absl::FailedPreconditionError("the server is not running")
                    : server_->Offer(
                          absl::MakeConstSpan(
                              reinterpret_cast<const uint8_t*>(bytes.data()),
                              bytes.size()),
                          *source);
    }
    if (absl::IsInvalidArgument(offered)) {
      throw py::value_error(std::string(offered.message()));
    }
    if (!offered.ok()) throw std::runtime_error(std::string(offered.message()));
  }

  uint64_t RefusedBusy() const {
    return handler_ ? handler_->refused_busy() : 0;
  }

 private:
  py::object on_transfer_end_;
  py::object on_server_stats_;
  std::shared_ptr<PythonHandler> handler_;
  std::mutex server_mutex_;  // Held by Offer, and to drop server_.
  std::unique_ptr<Server> server_;
};

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "The tftpd engine behind the tftpd and fbtftp packages.";
  m.def("release_deferred_references", &ReleaseDeferredReferences,
        "Releases the Python objects the engine let go of without the GIL "
        "(handlers of sessions whose records were dropped).");
  py::class_<Responder>(m, "Responder")
      .def_property_readonly(
          "path", [](const Responder& r) { return r.context().path; })
      .def_property_readonly(
          "requested_path",
          [](const Responder& r) { return r.context().requested_path; })
      .def_property_readonly(
          "peer", [](const Responder& r) { return Address(r.context().peer); })
      .def_property_readonly("server_address",
                             [](const Responder& r) {
                               return Address(r.context().server_address);
                             })
      .def_property_readonly(
          "mode", [](const Responder& r) { return r.context().mode_name; })
      .def_property_readonly(
          "options", [](const Responder& r) { return r.context().options; })
      .def_property_readonly(
          "request_id",
          [](const Responder& r) { return r.context().request_id; })
      .def("set_retry_policy", &Responder::SetRetryPolicy)
      .def("begin", &Responder::Begin, py::arg("data"), py::arg("size"))
      .def("set_session", &Responder::SetSession)
      .def("fail", &Responder::Fail)
      .def("drop", &Responder::Drop);
  py::class_<PyServer>(m, "Server")
      .def(py::init<int, py::dict, py::object, py::object, py::object>(),
           py::arg("fd"), py::arg("settings"), py::arg("dispatch"),
           py::arg("on_transfer_end"), py::arg("on_server_stats"))
      .def("start", &PyServer::Start)
      .def("stop", &PyServer::Stop, py::arg("immediate") = false)
      .def("done", &PyServer::Done)
      .def("close", &PyServer::Close)
      .def("totals", &PyServer::Totals)
      .def("refused_busy", &PyServer::RefusedBusy)
      .def("offer", &PyServer::Offer, py::arg("datagram"), py::arg("host"),
           py::arg("port"));
}

}  // namespace tftpd::python
