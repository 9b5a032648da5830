// A transfer in progress as Server::Transfers() reports it: who, what, how
// far and how well, for the status page and programs that watch their
// server. A copy taken on the transfer's shard; it does not change after.
#ifndef TFTPD_SERVER_API_TRANSFER_SNAPSHOT_H_
#define TFTPD_SERVER_API_TRANSFER_SNAPSHOT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "io/socket_address.h"

namespace tftpd {

struct TransferSnapshot {
  int shard = 0;
  uint64_t request_id = 0;
  io::SocketAddress peer;
  std::string requested_path;  // As the client sent it.
  bool upload = false;
  // waiting_for_file, waiting_for_stream, sending or receiving.
  std::string phase;
  // The client has answered (until then it is no transfer yet: a forged
  // request looks the same).
  bool answered = false;
  uint64_t bytes_acknowledged = 0;
  // The response's size when known (a file, bytes, a size-announcing
  // stream); for uploads the tsize the client announced, if any.
  std::optional<uint64_t> size;
  uint64_t packets_sent = 0;
  uint64_t retransmits = 0;
  int blksize = 512;
  int windowsize = 1;
  std::chrono::system_clock::time_point start_time;
  std::chrono::nanoseconds age{0};
};

}  // namespace tftpd

#endif  // TFTPD_SERVER_API_TRANSFER_SNAPSHOT_H_
