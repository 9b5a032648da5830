#include "server/observability/metrics_http.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/observability/log.h"

namespace tftpd {
namespace {

constexpr size_t kMaxRequest = 8192;

bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

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
    const std::string& address, std::function<std::string()> render) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("not host:port: ", address));
  }
  std::optional<io::SocketAddress> bind_to = io::SocketAddress::Parse(
      address.substr(0, colon), static_cast<uint16_t>(port));
  if (!bind_to.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an IP address: ", address.substr(0, colon)));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->render_ = std::move(render);
  const int fd =
      socket(bind_to->family(), SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  server->listen_fd_ = fd;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, bind_to->get(), bind_to->length()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("bind ", address));
  }
  if (listen(fd, 16) != 0) return absl::ErrnoToStatus(errno, "listen");
  socklen_t length = sizeof(sockaddr_storage);
  server->address_ = *bind_to;
  getsockname(fd, server->address_.mutable_get(), &length);
  int stop[2];
  if (pipe(stop) != 0) return absl::ErrnoToStatus(errno, "pipe");
  server->stop_read_ = stop[0];
  server->stop_write_ = stop[1];
  MetricsServer* raw = server.get();
  server->thread_ = std::thread([raw] { raw->Run(); });
  return server;
}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    const char one = 1;
    ssize_t unused = write(stop_write_, &one, 1);
    (void)unused;
    thread_.join();
  }
  for (int fd : {listen_fd_, stop_read_, stop_write_}) {
    if (fd >= 0) close(fd);
  }
}

void MetricsServer::Run() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_read_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      TFTPD_LOG(kError, "metrics: poll: %s", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    const int connection = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    Serve(connection);
    close(connection);
  }
}

void MetricsServer::Serve(int connection) {
  timeval limit{2, 0};
  setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.find("\n\n") == std::string::npos &&
         request.size() < kMaxRequest) {
    const ssize_t n = recv(connection, buffer, sizeof buffer, 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
  }
  std::string status = "200 OK";
  std::string body;
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  const bool head = absl::StartsWith(request, "HEAD ");
  if (!absl::StartsWith(request, "GET ") && !head) {
    status = "405 Method Not Allowed";
    body = "only GET\n";
    type = "text/plain";
  } else if (!absl::StartsWith(request,
                               head ? "HEAD /metrics " : "GET /metrics ") &&
             !absl::StartsWith(request,
                               head ? "HEAD /metrics?" : "GET /metrics?")) {
    status = "404 Not Found";
    body = "the metrics are at /metrics\n";
    type = "text/plain";
  } else {
    body = render_();
  }
  std::string response = absl::StrCat(
      "HTTP/1.1 ", status, "\r\nContent-Type: ", type,
      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  if (!head) response += body;
  SendAll(connection, response);
}

}  // namespace tftpd
