// The framework's examples as real servers on loopback: generated boot
// configs, statistics callbacks, and files streamed from an HTTP origin
// (python3's http.server) through a cache, including a missing file, a slow
// origin and one that dies mid-transfer.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/concurrent_downloads.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

// Downloads `name` with curl; the file's content, or "<failed: ...>".
std::string Fetch(const TftpdProcess& server, const std::string& name) {
  TempDir scratch;
  const std::string out = scratch.Join("out");
  const CommandResult result =
      RunCommand({"curl", "-sS", "--max-time", "60", "-o", out,
                  absl::StrCat("tftp://127.0.0.1:", server.port(), "/", name)});
  if (result.exit_code != 0) return "<failed: " + result.output + ">";
  return ReadFile(out);
}

HandRead ReadByHand(const TftpdProcess& server, const std::string& name,
                    std::chrono::milliseconds first_wait) {
  return ReadTransferByHand(
      *io::SocketAddress::Parse("127.0.0.1", server.port()), name, first_wait);
}

TEST(BootConfigServer, ConfigsByMacByAddressAndDefault) {
  TempDir templates;
  templates.Write("pxelinux.cfg",
                  "KERNEL {{role}}/vmlinuz host={{hostname}} "
                  "mac={{mac}} ip={{ip}}\n");
  templates.Write("grub.cfg", "linux {{role}}/vmlinuz host={{hostname}}\n");
  templates.Write("boot.ipxe", "#!ipxe\nkernel {{role}} {{hostname}}\n");
  templates.Write("hosts",
                  "default hostname=unknown role=rescue\n"
                  "52:54:00:12:34:56 hostname=web01 role=web\n"
                  "127.0.0.1 hostname=local role=lab  # by address\n");
  TempDir root;
  root.Write("pxelinux.0", "a boot loader");
  TftpdProcess server;
  server.set_binary("server/examples/boot_config_server");
  TFTPD_START_OR_SKIP(server, root.path(), {"--templates=" + templates.path()});
  EXPECT_EQ(Fetch(server, "pxelinux.cfg/01-52-54-00-12-34-56"),
            "KERNEL web/vmlinuz host=web01 mac=52:54:00:12:34:56 "
            "ip=127.0.0.1\n");
  // An unknown MAC: the default entry, not the address's.
  EXPECT_EQ(Fetch(server, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff"),
            "KERNEL rescue/vmlinuz host=unknown mac=aa:bb:cc:dd:ee:ff "
            "ip=127.0.0.1\n");
  // No MAC in the name: by the client's address.
  EXPECT_EQ(Fetch(server, "grub.cfg"), "linux lab/vmlinuz host=local\n");
  EXPECT_EQ(Fetch(server, "boot.ipxe"), "#!ipxe\nkernel lab local\n");
  // Everything else comes from the root.
  EXPECT_EQ(Fetch(server, "pxelinux.0"), "a boot loader");
  EXPECT_EQ(ReadByHand(server, "missing", std::chrono::seconds(2)).error_code,
            1);
}

TEST(BootConfigServer, BundledTemplatesLoad) {
  TempDir root;
  TftpdProcess server;
  server.set_binary("server/examples/boot_config_server");
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--templates=server/examples/boot_templates"});
  const std::string config = Fetch(server, "pxelinux.cfg/01-52-54-00-12-34-56");
  EXPECT_NE(config.find("hostname=web01"), std::string::npos) << config;
}

TEST(BootConfigServer, MissingTemplatesAreAStartupError) {
  TempDir empty;
  TftpdProcess server;
  server.set_binary("server/examples/boot_config_server");
  const absl::Status started =
      server.Start(empty.path(), {"--templates=" + empty.path()});
  EXPECT_FALSE(started.ok());
  EXPECT_NE(std::string(started.message()).find("no template"),
            std::string::npos)
      << started;
}

TEST(StatsPrinter, PrintsEachTransferAndEachInterval) {
  TempDir root;
  root.Write("kernel", TestContent(100000));
  TftpdProcess server;
  server.set_binary("server/examples/stats_printer");
  TFTPD_START_OR_SKIP(server, root.path(), {"--stats_interval=1"});
  TempDir scratch;
  const CommandResult result = RunCommand(
      {"curl", "-sS", "--tftp-blksize", "1428", "-o", scratch.Join("k"),
       absl::StrCat("tftp://127.0.0.1:", server.port(), "/kernel")});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ReadByHand(server, "missing", std::chrono::seconds(2));
  const std::string log = server.LogOnceItContains(
      "server requests_received=", std::chrono::milliseconds(3000));
  EXPECT_NE(log.find("transfer peer=127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find("path=kernel requested=kernel outcome=completed error=0"),
            std::string::npos)
      << log;
  // curl asks for tsize, blksize and timeout, in that order.
  EXPECT_NE(log.find("asked=[tsize=0,blksize=1428,timeout=6] "
                     "acked=[tsize=100000,blksize=1428,timeout=6]"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("blocks_acked=71 bytes_sent=100000 retransmits=0 "
                     "blksize=1428 windowsize=1"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("refused_not_found=1"), std::string::npos) << log;
  EXPECT_NE(log.find("server shard=1 "), std::string::npos) << log;
}

class HttpOrigin : public ::testing::Test {
 protected:
  void SetUp() override {
    origin_root_.Write("kernel", TestContent(1 << 20, 7));
    origin_root_.Write("initrd", TestContent(300000, 9));
    origin_root_.Write("empty", "");
    const std::string port_file = scratch_.Join("origin_port");
    ASSERT_TRUE(origin_
                    .Start({"python3", "tests/examples/origin_server.py",
                            origin_root_.path(), port_file})
                    .ok());
    // The origin writes its port once it listens.
    int port = 0;
    ASSERT_TRUE(WaitUntil([&] {
      return absl::SimpleAtoi(ReadFile(port_file), &port) && port != 0;
    })) << origin_.log();
    server_.set_binary("server/examples/http_origin_server");
    // The root is unused: every name goes to the origin.
    TFTPD_START_OR_SKIP(
        server_, scratch_.path(),
        {absl::StrCat("--origin=http://127.0.0.1:", port), "--timeout=1"});
  }

  TempDir origin_root_;
  TempDir scratch_;
  BackgroundProcess origin_;
  TftpdProcess server_;
};

TEST_F(HttpOrigin, AStormFetchesEachFileFromTheOriginOnce) {
  const std::string kernel = ReadFile(origin_root_.Join("kernel"));
  const std::string initrd = ReadFile(origin_root_.Join("initrd"));
  std::vector<DownloadJob> jobs(40);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].request.filename = i % 2 == 0 ? "kernel" : "initrd";
    jobs[i].request.blksize = 1428;
    jobs[i].request.ask_tsize = true;
    jobs[i].request.windowsize = i % 4 < 2 ? 0 : 8;
    jobs[i].expected = i % 2 == 0 ? &kernel : &initrd;
  }
  const DownloadReport report = RunConcurrentDownloads(
      *io::SocketAddress::Parse("127.0.0.1", server_.port()), jobs);
  EXPECT_EQ(report.completed, 40) << server_.log();
  for (const auto& [reason, count] : report.failures) {
    ADD_FAILURE() << count << " failed: " << reason;
  }
  const std::string expected_kernel = ReadFile(origin_root_.Join("kernel"));
  EXPECT_EQ(Fetch(server_, "kernel"), expected_kernel);
  EXPECT_EQ(Fetch(server_, "initrd"), ReadFile(origin_root_.Join("initrd")));
  EXPECT_EQ(Fetch(server_, "empty"), "");
  const std::string log = origin_.log();
  EXPECT_EQ(CountOccurrences(log, "GET /kernel\n"), 1u) << log;
  EXPECT_EQ(CountOccurrences(log, "GET /initrd\n"), 1u) << log;
}

TEST_F(HttpOrigin, AMissingFileIsError1) {
  const HandRead r =
      ReadByHand(server_, "nothing/here", std::chrono::seconds(5));
  EXPECT_EQ(r.error_code, 1) << server_.log();
  EXPECT_EQ(r.error_message, "file not found");
}

TEST_F(HttpOrigin, ASlowOriginIsWaitedFor) {
  // The origin answers after 2 s; the client's own retries of the request
  // meet the waiting transfer, and the file arrives whole.
  const HandRead r =
      ReadByHand(server_, "slow/kernel", std::chrono::seconds(5));
  EXPECT_FALSE(r.timed_out) << server_.log();
  EXPECT_EQ(r.bytes, ReadFile(origin_root_.Join("kernel")));
}

TEST_F(HttpOrigin, AnOriginDyingMidTransferEndsItWithAnError) {
  const HandRead r = ReadByHand(server_, "die/kernel", std::chrono::seconds(5));
  EXPECT_EQ(r.error_code, 0) << server_.log();
  EXPECT_TRUE(absl::StartsWith(r.error_message, "origin failed"))
      << r.error_message;
  EXPECT_LT(r.bytes.size(), size_t{1} << 20);
  // The failed fetch is not cached: asked again, the origin is asked again.
  ReadByHand(server_, "die/kernel", std::chrono::seconds(5));
  EXPECT_EQ(CountOccurrences(origin_.log(), "GET /die/kernel\n"), 2u);
  // The server carries on.
  EXPECT_EQ(Fetch(server_, "initrd"), ReadFile(origin_root_.Join("initrd")));
}

}  // namespace
}  // namespace tftpd::testing
