// Prometheus metrics over HTTP (--metrics_address): a small HTTP/1.x server
// on a thread of its own answering GET /metrics with the counters in the
// text exposition format (version 0.0.4). Scrapes are served one at a time
// with short socket timeouts, so a slow scraper delays only scrapes.
#ifndef TFTPD_SERVER_OBSERVABILITY_METRICS_HTTP_H_
#define TFTPD_SERVER_OBSERVABILITY_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "io/socket_address.h"
#include "server/observability/server_stats.h"

namespace tftpd {

// Every counter as tftpd_<name>_total{shard="N"} (gauges without _total),
// with a code or reason label where the counter has one.
std::string RenderPrometheus(const std::vector<ServerTotals>& shards);

class MetricsServer {
 public:
  // `address` is host:port ("127.0.0.1:9169", "[::]:9169"); `render` makes
  // the body of each scrape.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, std::function<std::string()> render);
  ~MetricsServer();
  const io::SocketAddress& address() const { return address_; }

 private:
  MetricsServer() = default;
  void Run();
  void Serve(int connection);

  int listen_fd_ = -1;
  int stop_read_ = -1;
  int stop_write_ = -1;
  io::SocketAddress address_;
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_OBSERVABILITY_METRICS_HTTP_H_
