#include "server/observability/metrics_http.h"

#include <sys/socket.h>

#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tftpd {
std::string RenderPrometheus(const std::vector<ServerTotals>& shards) {
  // One family at a time: HELP and TYPE, then a sample per shard (and label).
  struct Sample {
    std::string family;
    std::string help;
    bool gauge;
    std::vector<std::string> lines;
  };
  std::vector<Sample> families;
  for (size_t shard = 0; shard < shards.size(); ++shard) {
    size_t next = 0;
    shards[shard].ForEach([&](absl::string_view name, absl::string_view help,
                              absl::string_view label_name,
                              absl::string_view label_value, uint64_t value,
                              bool gauge) {
      const std::string family =
          absl::StrCat("tftpd_", name, gauge ? "" : "_total");
      if (next == families.size() || families[next].family != family) {
        // Families come in the same order for every shard.
        size_t found = 0;
        while (found < families.size() && families[found].family != family) {
          ++found;
        }
        if (found == families.size()) {
          families.push_back(Sample{family, std::string(help), gauge, {}});
        }
        next = found;
      }
      std::string labels = absl::StrCat("shard=\"", shard, "\"");
      if (!label_name.empty()) {
        absl::StrAppend(&labels, ",", label_name, "=\"", label_value, "\"");
      }
      families[next].lines.push_back(
          absl::StrCat(family, "{", labels, "} ", value, "\n"));
    });
  }
  std::string out;
  for (const Sample& f : families) {
    absl::StrAppend(&out, "# HELP ", f.family, " ", f.help, "\n", "# TYPE ",
                    f.family, f.gauge ? " gauge\n" : " counter\n");
    for (const std::string& line : f.lines) out += line;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& address, std::vector<HttpRoute> routes,
    const HttpLimits& limits) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("not host:port: ", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::optional<io::SocketAddress> bind_to =
      io::SocketAddress::Parse(host, static_cast<uint16_t>(port));
  if (!bind_to.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an IP address: ", host));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->routes_ = std::move(routes);
  server->address_ = *bind_to;
  // One thread polls every connection (epoll): a slow client holds one of
  // the connection slots, never the thread.
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (bind_to->family() == AF_INET6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &MetricsServer::Answer, server.get(),
      MHD_OPTION_SOCK_ADDR, bind_to->get(), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(std::max(1, limits.idle_timeout_seconds)),
      MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned>(std::max(1, limits.connections)),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned>(std::max(1, limits.connections_per_address)),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(32 * 1024),
      MHD_OPTION_LISTEN_BACKLOG_SIZE, 16u, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve HTTP on ", address, " (address in use or not local?)"));
  }
  const MHD_DaemonInfo* info =
      MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_LISTEN_FD);
  socklen_t length = io::SocketAddress::kCapacity;
  if (info != nullptr) {
    getsockname(info->listen_fd, server->address_.mutable_get(), &length);
  }
  return server;
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

MHD_Result MetricsServer::Answer(void* self, MHD_Connection* connection,
                                 const char* url, const char* method,
                                 const char* /*version*/,
                                 const char* /*upload_data*/,
                                 size_t* upload_data_size,
                                 void** /*request_state*/) {
  const absl::string_view verb = method;
  const auto* server = static_cast<MetricsServer*>(self);
  unsigned status = MHD_HTTP_OK;
  std::string body;
  std::string type = "text/plain; charset=utf-8";
  const HttpRoute* route = nullptr;
  for (const HttpRoute& r : server->routes_) {
    if (r.path == url) route = &r;
  }
  if (verb != MHD_HTTP_METHOD_GET && verb != MHD_HTTP_METHOD_HEAD) {
    status = MHD_HTTP_METHOD_NOT_ALLOWED;
    body = "only GET\n";
    *upload_data_size = 0;  // Whatever body it sent is not read.
  } else if (route == nullptr) {
    status = MHD_HTTP_NOT_FOUND;
    body = "served here:";
    for (const HttpRoute& r : server->routes_)
      absl::StrAppend(&body, " ", r.path);
    body += "\n";
  } else {
    body = route->render();
    type = route->content_type;
  }
  MHD_Response* response = MHD_create_response_from_buffer(
      body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type.c_str());
  const MHD_Result queued = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return queued;
}

}  // namespace tftpd
