// U-Boot, as Debian builds it for QEMU (u-boot-qemu), booting Linux from
// tftpd: its own DHCP and TFTP client, on a tap device in a network
// namespace of the test's own. U-Boot's default boot command tries its
// disks, then `dhcp` with the boot file boot.scr.uimg (a script image made
// here with u-boot-tools' mkimage), whose commands fetch the kernel and the
// initramfs with `tftpboot` and start them with `zboot`.
//
// And once on an arm64 machine (QEMU's virt board, software emulation), as
// most U-Boot users are on ARM: U-Boot's qemu_arm64 build boots Debian's
// arm64 kernel with `booti` (tools/fetch_arm64_guest unpacks it, and an
// arm64 busybox for the initramfs, from Debian's arm64 archive).
//
// The x86 machine runs the 32-bit build (qemu-x86): Debian's qemu-x86_64
// build stops in `zboot` after "Loading bzImage" (QEMU exits, nothing
// printed).
//
// Once with U-Boot's defaults (blksize 1468, no windowsize), once as people
// who tune it do: tftpwindowsize raised, tftpblocksize 1468 (Debian's U-Boot
// does not reassemble IP fragments); and tuned again from behind a NAT
// (nftables masquerade in a router namespace), tftpd in single-port mode.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/boot_machine.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

// What differs between the two machines U-Boot boots.
struct Machine {
  const char* qemu;
  std::vector<std::string> machine_args;  // After MachineArgs; -bios last.
  const char* mkimage_arch;
  const char* console;
  const char* boot_command;  // Starts the kernel, after both fetches.
};

Machine X86() {
  return {"qemu-system-x86_64", UbootX86Args(), "x86", "ttyS0",
          "zboot ${kernel_addr_r} 0 ${ramdisk_addr_r} ${filesize}"};
}

Machine Arm64() {
  std::vector<std::string> args = Arm64BoardArgs();
  args.insert(args.end(), {"-bios", "/usr/lib/u-boot/qemu_arm64/u-boot.bin"});
  return {"qemu-system-aarch64",
          std::move(args),  // -bios last: the test checks it is there.
          "arm64", "ttyAMA0",
          "booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} "
          "${fdtcontroladdr}"};
}

// About 25 s here with software emulation; room for a busy machine.
constexpr auto kBootLimit = std::chrono::seconds(180);

struct Tuning {
  const char* name;
  // Commands run before the kernel and initramfs are fetched.
  const char* commands;
  // What the server's transfer lines for them must say.
  const char* blksize;
  const char* windowsize;
  // Through a NAT, with the server in single-port mode (the case that mode
  // is for: a reply from any other port finds no translation back).
  bool through_nat = false;
  bool arm64 = false;  // U-Boot's qemu_arm64 build, booting an arm64 kernel.
};

class UbootBoot : public ::testing::TestWithParam<Tuning> {};

// The server's line for `needle`, once written (at the final ACK).
std::string TransferLine(const TftpdProcess& server,
                         const std::string& needle) {
  const std::string log =
      server.LogOnceItContains(needle, std::chrono::milliseconds(5000));
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, needle)) return std::string(line);
  }
  return "";
}

TEST_P(UbootBoot, FetchesKernelAndInitrdAndBootsLinux) {
  const Tuning& tuning = GetParam();
  const Machine machine = tuning.arm64 ? Arm64() : X86();
  const std::string qemu = FindProgram(machine.qemu);
  if (qemu.empty()) {
    GTEST_SKIP() << "QEMU (" << machine.qemu << ") is not installed";
  }
  ASSERT_EQ(access(machine.machine_args.back().c_str(), R_OK), 0)
      << "tools/setup installs u-boot-qemu";
  const std::string mkimage = FindProgram("mkimage");
  ASSERT_FALSE(mkimage.empty()) << "tools/setup installs u-boot-tools";
  const std::string kernel =
      tuning.arm64 ? Arm64Guest() + "/Image" : FindKernel();
  const std::string busybox =
      ReadFile(tuning.arm64 ? Arm64Guest() + "/busybox" : "/bin/busybox");
  ASSERT_FALSE(kernel.empty() || ReadFile(kernel).empty() || busybox.empty())
      << "tools/setup --tests installs linux-image-amd64 and busybox-static, "
      << "and fetches the arm64 guest (tools/fetch_arm64_guest)";

  TempDir root;
  root.Write("vmlinuz", ReadFile(kernel));
  root.Write("initrd.cpio", MakeInitramfs(busybox));
  TempDir work;
  work.Write("boot.cmd",
             absl::StrCat("echo tftpd u-boot script\n", tuning.commands,
                          "setenv bootargs console=", machine.console,
                          " quiet panic=-1\n"
                          "tftpboot ${kernel_addr_r} vmlinuz\n"
                          "tftpboot ${ramdisk_addr_r} initrd.cpio\n",
                          machine.boot_command, "\n"));
  const CommandResult image = RunCommand(
      {mkimage, "-A", machine.mkimage_arch, "-T", "script", "-C", "none", "-n",
       "tftpd", "-d", work.Join("boot.cmd"), root.Join("boot.scr.uimg")});
  ASSERT_EQ(image.exit_code, 0) << image.output;

  TapNamespace tap(tuning.through_nat ? TapNamespace::Path::kThroughNat
                                      : TapNamespace::Path::kDirect);
  if (!tap.status().ok()) GTEST_SKIP() << tap.status().message();
  Udhcpd dhcp(tap, "boot.scr.uimg");
  ASSERT_TRUE(dhcp.status().ok()) << dhcp.status();
  TftpdProcess server;
  std::vector<std::string> flags = {"--port=69"};
  if (tuning.through_nat) flags.push_back("--single_port");
  TFTPD_START_OR_SKIP(server, root.path(), flags, tap.server_address());

  std::vector<std::string> argv = MachineArgs(qemu);
  argv.insert(argv.end(), machine.machine_args.begin(),
              machine.machine_args.end());
  for (std::string& arg :
       TapNamespace::NetdevArgs(tuning.arm64 ? "virtio-net-pci" : "e1000")) {
    argv.push_back(std::move(arg));
  }
  const CommandResult boot =
      TimedBoot(absl::StrCat("U-Boot (", tuning.name, ")"), tap.GuestSide(argv),
                kBootLimit);
  ASSERT_TRUE(absl::StrContains(boot.output, kBootMarker))
      << boot.output << "\n"
      << server.log() << "\n"
      << dhcp.log();

  const std::string script = TransferLine(server, "file=boot.scr.uimg ");
  EXPECT_TRUE(absl::StrContains(script, "outcome=completed")) << script;
  for (const char* name : {"vmlinuz", "initrd.cpio"}) {
    const std::string line =
        TransferLine(server, absl::StrCat("file=", name, " "));
    std::printf("%s\n", line.c_str());
    EXPECT_TRUE(absl::StrContains(line, "outcome=completed")) << line;
    EXPECT_TRUE(absl::StrContains(line, "retransmits=0")) << line;
    if (tuning.through_nat) {  // The router's address, as translated.
      EXPECT_TRUE(absl::StrContains(line, "peer=10.0.3.1:")) << line;
    }
    EXPECT_TRUE(absl::StrContains(line, tuning.blksize)) << line;
    EXPECT_TRUE(absl::StrContains(line, tuning.windowsize)) << line;
    EXPECT_TRUE(absl::StrContains(
        line, absl::StrCat("bytes=", ReadFile(root.Join(name)).size(), " ")))
        << line;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Settings, UbootBoot,
    ::testing::Values(
        Tuning{"Defaults", "", "blksize=1468", "windowsize=1 "},
        Tuning{"Tuned", "setenv tftpblocksize 1468\nsetenv tftpwindowsize 8\n",
               "blksize=1468", "windowsize=8 "},
        Tuning{"TunedThroughNat",
               "setenv tftpblocksize 1468\nsetenv tftpwindowsize 8\n",
               "blksize=1468", "windowsize=8 ", true},
        Tuning{"Arm64", "", "blksize=1468", "windowsize=1 ", false, true}),
    [](const ::testing::TestParamInfo<Tuning>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace tftpd::testing
