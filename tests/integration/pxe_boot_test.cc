// Real network boots from tftpd: QEMU (software emulation) boots a virtual
// machine whose firmware fetches everything from our server, down to a Linux
// kernel and an initramfs that checks what it received and powers off.
//
// - BIOS: SeaBIOS runs the iPXE option ROM (Debian's ipxe-qemu) with QEMU's
//   user-mode networking. Its DHCP hands out the boot file
//   tftp://10.0.2.2:PORT/boot.ipxe, which reaches tftpd on the host's
//   loopback; the script fetches files of several sizes (one of more than
//   65535 blocks, so the block number rolls over) into the initramfs, then
//   the kernel. The initramfs's init (busybox-static) prints each file's
//   SHA-256, which must match ours, and a marker. Run with and without
//   --single_port (user-mode networking is a NAT, the case that mode is for).
// - UEFI: OVMF's own PXE client (EDK2: a tsize probe, then blksize 1468 and
//   windowsize 4) loads iPXE (snponly.efi), which boots the same kernel. EDK2
//   always asks the DHCP next-server on port 69, and in user-mode networking
//   that address's port 69 is QEMU's built-in TFTP server, which cannot be
//   turned off; so this boot runs on a tap device in a network namespace of
//   the test's own, with busybox's udhcpd, and tftpd on port 69 there.
//
// Skipped where QEMU is absent. Each boot takes well under a minute, with
// software emulation (MachineArgs says why not KVM).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/boot_machine.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr const char* kMarker = kBootMarker;
// QEMU's default option ROM for virtio-net (legacy BIOS and UEFI drivers),
// found by name in QEMU's firmware path; given as a path, Debian's QEMU 7.2
// does not boot from it.
constexpr char kIpxeRom[] = "/usr/lib/ipxe/qemu/efi-virtio.rom";
constexpr char kIpxeEfi[] = "/usr/lib/ipxe/snponly.efi";
// A boot takes 20 to 40 s here; the limit leaves room for a machine busy with
// other tests (the test prints each boot's time).
constexpr auto kBootLimit = std::chrono::seconds(150);
// --timeout 1 s doubling to --max_timeout 2 s over 5 retries: 11 s, and a
// loaded machine's margin.
constexpr auto kInitrdRecordLimit = std::chrono::seconds(20);

// A file iPXE fetches into the initramfs. iPXE asks for blksize 1432.
struct Payload {
  std::string name;
  size_t size;
};
const std::vector<Payload>& Payloads() {
  static const auto* payloads = new std::vector<Payload>{
      {"one_byte", 1},
      {"small", 1000},
      {"exact_blocks", 100 * 1432},  // Ends with an empty DATA block.
      {"medium", 1000 * 1000},
      {"rollover", 65536 * 1432 + 1000},  // 65,537 blocks.
  };
  return *payloads;
}

class PxeBoot : public ::testing::Test {
 protected:
  void SetUp() override {
    qemu_ = FindProgram("qemu-system-x86_64");
    if (qemu_.empty()) {
      GTEST_SKIP() << "QEMU (qemu-system-x86_64) is not installed";
    }
    kernel_ = FindKernel();
    ASSERT_FALSE(kernel_.empty())
        << "no /boot/vmlinuz-*: tools/setup installs linux-image-amd64";
    const std::string busybox = ReadFile("/bin/busybox");
    ASSERT_FALSE(busybox.empty()) << "tools/setup installs busybox-static";
    root_.Write("vmlinuz", ReadFile(kernel_));
    root_.Write("initrd.cpio", MakeInitramfs(busybox));
  }

  // The server's transfer line for `file`, once there (the line is written
  // when the final ACK is read).
  std::string TransferLine(
      const TftpdProcess& server, const std::string& needle,
      std::chrono::milliseconds limit = std::chrono::milliseconds(2000)) {
    const std::string log = server.LogOnceItContains(needle, limit);
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      if (absl::StrContains(line, needle)) return std::string(line);
    }
    return "";
  }

  std::string qemu_;
  std::string kernel_;
  TempDir root_;
};

class PxeBootBios : public PxeBoot,
                    public ::testing::WithParamInterface<bool> {};

TEST_P(PxeBootBios, IpxeFetchesEveryFileAndBootsLinux) {
  const bool single_port = GetParam();
  ASSERT_EQ(access(kIpxeRom, R_OK), 0) << "tools/setup installs ipxe-qemu";
  std::string script =
      "#!ipxe\n"
      "echo tftpd boot script\n"
      "kernel vmlinuz console=ttyS0 quiet panic=-1\n"
      "initrd initrd.cpio\n";
  for (const Payload& p : Payloads()) {
    root_.Write(p.name, TestContent(p.size, static_cast<uint32_t>(p.size)));
    absl::StrAppend(&script, "initrd ", p.name, " /files/", p.name, "\n");
  }
  absl::StrAppend(&script, "boot\n");
  root_.Write("boot.ipxe", script);

  TftpdProcess server;
  std::vector<std::string> flags;
  if (single_port) flags.push_back("--single_port");
  TFTPD_START_OR_SKIP(server, root_.path(), flags, "127.0.0.1");
  std::vector<std::string> argv = MachineArgs(qemu_);
  argv.insert(argv.end(), {"-netdev",
                           absl::StrCat("user,id=n0,bootfile=tftp://10.0.2.2:",
                                        server.port(), "/boot.ipxe"),
                           "-device", "virtio-net-pci,netdev=n0"});
  const auto start = std::chrono::steady_clock::now();
  const CommandResult boot = RunCommand(argv, kBootLimit);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("BIOS boot (%s) took %.1f s\n",
              single_port ? "--single_port" : "default", seconds);
  ASSERT_TRUE(absl::StrContains(boot.output, kMarker)) << boot.output << "\n"
                                                       << server.log();

  // Every byte the guest received, as its own SHA-256 says.
  const std::map<std::string, std::string> sums = Sha256Lines(boot.output);
  for (const Payload& p : Payloads()) {
    SCOPED_TRACE(p.name);
    const CommandResult ours = RunCommand({"sha256sum", root_.Join(p.name)});
    ASSERT_EQ(ours.exit_code, 0) << ours.output;
    ASSERT_TRUE(sums.count(p.name)) << boot.output;
    EXPECT_EQ(sums.at(p.name), ours.output.substr(0, 64));
  }
  // And as the server saw it: each file sent whole, at iPXE's block size.
  for (const char* name : {"boot.ipxe", "vmlinuz", "initrd.cpio", "rollover"}) {
    const std::string line =
        TransferLine(server, absl::StrCat("file=", name, " "));
    std::printf("%s\n", line.c_str());
    EXPECT_TRUE(absl::StrContains(line, "outcome=completed")) << line;
    EXPECT_TRUE(absl::StrContains(line, "blksize=1432")) << line;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, PxeBootBios, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "SinglePort" : "PortPerTransfer";
                         });

TEST_F(PxeBoot, UefiPxeLoadsIpxeWhichBootsLinux) {
  for (const char* file : {kIpxeEfi, kOvmfCode, kOvmfVars}) {
    ASSERT_EQ(access(file, R_OK), 0)
        << file << ": tools/setup installs ovmf and ipxe";
  }
  TapNamespace tap;
  if (!tap.status().ok()) GTEST_SKIP() << tap.status().message();
  // One boot file name for both clients: EDK2 asks for it as a plain name
  // (mapped to iPXE), and iPXE, seeing a URL, fetches the script it names.
  Udhcpd dhcp(tap, "tftp://10.0.2.2/boot.ipxe");
  ASSERT_TRUE(dhcp.status().ok()) << dhcp.status();
  TempDir config;
  config.Write("map", "r ^tftp://10\\.0\\.2\\.2/boot\\.ipxe$ snponly.efi\n");
  root_.Write("snponly.efi", ReadFile(kIpxeEfi));
  root_.Write("boot.ipxe",
              "#!ipxe\n"
              "echo tftpd boot script\n"
              "kernel vmlinuz console=ttyS0 quiet panic=-1 "
              "initrd=initrd.cpio\n"
              "initrd initrd.cpio\n"
              "boot\n");
  TftpdProcess server;
  TFTPD_START_OR_SKIP(
      server, root_.path(),
      {"--port=69", "--map_file=" + config.Join("map"), "--max_timeout=2"},
      "10.0.2.2");

  std::vector<std::string> argv = MachineArgs(qemu_);
  for (std::string& arg : OvmfArgs(config)) {
    argv.push_back(std::move(arg));
  }
  // No option ROM: the firmware's own PXE client, not iPXE's.
  for (std::string& arg : TapNamespace::NetdevArgs("virtio-net-pci,romfile=")) {
    argv.push_back(std::move(arg));
  }
  const auto start = std::chrono::steady_clock::now();
  const CommandResult boot = RunCommand(argv, kBootLimit);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("UEFI boot took %.1f s\n", seconds);
  ASSERT_TRUE(absl::StrContains(boot.output, kMarker)) << boot.output << "\n"
                                                       << server.log() << "\n"
                                                       << dhcp.log();

  // EDK2's size probe (ERROR 8 after the OACK), then its windowed download.
  const std::string probe =
      TransferLine(server, "file=tftp://10.0.2.2/boot.ipxe outcome=peer_error");
  EXPECT_TRUE(absl::StrContains(probe, "error=8")) << server.log();
  const std::string nbp =
      TransferLine(server, "file=tftp://10.0.2.2/boot.ipxe outcome=completed");
  EXPECT_TRUE(absl::StrContains(nbp, "blksize=1468")) << server.log();
  EXPECT_TRUE(absl::StrContains(nbp, "windowsize=4")) << server.log();
  EXPECT_TRUE(absl::StrContains(
      nbp, absl::StrCat("bytes=", ReadFile(kIpxeEfi).size(), " ")))
      << nbp;
  // iPXE fetches the initrd, then runs `boot`, whose ExitBootServices resets
  // the NIC: the initrd's final ACK may still sit in the firmware's transmit
  // queue and never leave. The kernel's marker proves the client has every
  // byte; the server, never told so, ends that transfer after its retries
  // (--max_timeout keeps that wait short). The kernel's final ACK goes out
  // ahead of the initrd's request, so that transfer must complete.
  const std::string kernel = TransferLine(server, "file=vmlinuz ");
  std::printf("%s\n", kernel.c_str());
  EXPECT_TRUE(absl::StrContains(kernel, "outcome=completed")) << kernel << "\n"
                                                              << server.log();
  const std::string initrd =
      TransferLine(server, "file=initrd.cpio ", kInitrdRecordLimit);
  std::printf("%s\n", initrd.c_str());
  EXPECT_TRUE(absl::StrContains(initrd, "outcome=completed") ||
              absl::StrContains(initrd, "outcome=timed_out"))
      << initrd << "\n"
      << server.log();
}

}  // namespace
}  // namespace tftpd::testing
