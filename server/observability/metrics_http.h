// tftpd's HTTP endpoint (--metrics_address): GET /metrics answers with the
// counters in Prometheus' text exposition format (version 0.0.4), and the
// status page's paths (status_page.h) with theirs. Served
// by libmicrohttpd (Debian's) on a thread of its own that polls every
// connection, with a bound on connections (in all and per address) and an
// idle timeout: a slow or idle client holds one connection, never the
// endpoint.
#ifndef TFTPD_SERVER_OBSERVABILITY_METRICS_HTTP_H_
#define TFTPD_SERVER_OBSERVABILITY_METRICS_HTTP_H_

#include <microhttpd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "io/socket_address.h"
#include "server/api/server_stats.h"

namespace tftpd {

// Every counter as tftpd_<name>_total{shard="N"} (gauges without _total),
// with a code or reason label where the counter has one.
std::string RenderPrometheus(const std::vector<ServerTotals>& shards);

struct HttpLimits {
  int connections = 32;             // Open at once, from everyone.
  int connections_per_address = 8;  // From one client address.
  // A connection that sends nothing for this long is closed.
  int idle_timeout_seconds = 10;
};

// One path the endpoint answers: `render` makes each body (on the HTTP
// thread).
struct HttpRoute {
  std::string path;
  std::string content_type;
  std::function<std::string()> render;
};

class MetricsServer {
 public:
  // `address` is host:port ("127.0.0.1:9169", "[::]:9169"). Any other path
  // is a 404 that lists the routes.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::vector<HttpRoute> routes,
      const HttpLimits& limits = {});
  ~MetricsServer();
  const io::SocketAddress& address() const { return address_; }

 private:
  MetricsServer() = default;
  static MHD_Result Answer(void* self, MHD_Connection* connection,
                           const char* url, const char* method,
                           const char* version, const char* upload_data,
                           size_t* upload_data_size, void** request_state);

  MHD_Daemon* daemon_ = nullptr;
  io::SocketAddress address_;
  std::vector<HttpRoute> routes_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_OBSERVABILITY_METRICS_HTTP_H_
