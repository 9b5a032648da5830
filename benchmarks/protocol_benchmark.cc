// Micro-benchmarks of the protocol core: what one packet costs the CPU
// before any system call. Run: bazel run -c opt //benchmarks:protocol_benchmark
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "protocol/options.h"
#include "protocol/packet.h"
#include "protocol/read_transfer.h"

namespace tftp {
namespace {

std::vector<uint8_t> UefiRequest() {
  std::vector<uint8_t> buf(512);
  const RawOption options[] = {
      {"tsize", "0"}, {"blksize", "1468"}, {"windowsize", "4"}};
  buf.resize(EncodeRequest(absl::MakeSpan(buf), Opcode::kRrq,
                           "EFI/BOOT/bootx64.efi", TransferMode::kOctet,
                           options));
  return buf;
}

void BM_ParseRequest(benchmark::State& state) {
  const std::vector<uint8_t> datagram = UefiRequest();
  Request request;
  for (auto _ : state) {
    ProtocolStatus s = ParseRequest(datagram, &request);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseRequest);

void BM_ParseAck(benchmark::State& state) {
  const uint8_t datagram[] = {0, 4, 0x12, 0x34};
  AckPacket ack;
  for (auto _ : state) {
    ProtocolStatus s = ParseAck(datagram, &ack);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(ack);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAck);

void BM_EncodeDataHeader(benchmark::State& state) {
  uint8_t buf[kDataHeaderSize];
  uint16_t block = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeDataHeader(buf, ++block));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeDataHeader);

void BM_NegotiateAndEncodeOack(benchmark::State& state) {
  const std::vector<uint8_t> datagram = UefiRequest();
  Request request;
  if (!ParseRequest(datagram, &request).ok()) state.SkipWithError("parse");
  OptionLimits limits;
  limits.max_blksize = 1468;
  limits.max_windowsize = 16;
  uint8_t oack[kMaxNegotiatedOackSize];
  for (auto _ : state) {
    NegotiatedOptions negotiated;
    ProtocolStatus s =
        NegotiateOptions(request, limits, 31'457'280, &negotiated);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(EncodeNegotiatedOack(oack, negotiated));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NegotiateAndEncodeOack);

// One transfer step: an ACK arrives and the next window's headers are
// produced. range(0) is the window size.
void BM_ReadTransferStep(benchmark::State& state) {
  const uint16_t window = static_cast<uint16_t>(state.range(0));
  NegotiatedOptions options;
  options.blksize = 1468;
  options.windowsize = window;
  const uint64_t size = uint64_t{1} << 40;  // Never ends during the run.
  ReadTransfer transfer({}, options, size);
  TimePoint now{};
  transfer.Start(now);
  std::vector<uint8_t> buf(transfer.buffer_size());
  while (transfer.HasOutgoing()) transfer.NextOutgoing(absl::MakeSpan(buf));
  uint8_t ack[4];
  uint64_t acked = 0;
  for (auto _ : state) {
    acked += window;
    EncodeAck(ack, static_cast<uint16_t>(acked));
    transfer.OnDatagram(ack, now);
    while (transfer.HasOutgoing()) {
      benchmark::DoNotOptimize(transfer.NextOutgoing(absl::MakeSpan(buf)));
    }
  }
  state.SetItemsProcessed(state.iterations() * window);
  state.counters["packets"] =
      benchmark::Counter(static_cast<double>(state.iterations() * window),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadTransferStep)->Arg(1)->Arg(4)->Arg(16);

}  // namespace
}  // namespace tftp

BENCHMARK_MAIN();
