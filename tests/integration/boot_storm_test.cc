// Eight machines boot at once from one tftpd, with mixed firmware on one
// bridge: three U-Boot (x86), three pxelinux under SeaBIOS, two OVMF
// loading GRUB's network image. Each has a fixed address (udhcpd's static
// leases by MAC), and one boot file name, `pxeboot`, which a map-file rule
// sends to a directory per address (`\i`): the firmware a machine runs
// decides what it finds there. Every machine must reach its marker, and
// every transfer line must say `completed`.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/boot_machine.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {
namespace {

constexpr char kPxelinux[] = "/usr/lib/PXELINUX/pxelinux.0";
constexpr char kLdlinux[] = "/usr/lib/syslinux/modules/bios/ldlinux.c32";
constexpr char kGrubNet[] =
    "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed";
// Eight TCG guests share two cores here.
constexpr auto kBootLimit = std::chrono::seconds(300);

enum class Firmware { kUboot, kPxelinux, kOvmfGrub };

struct Machine {
  Firmware firmware;
  std::string mac;
  std::string address;
};

TEST(BootStorm, EightMixedMachinesBootAtOnce) {
  const std::string qemu = FindProgram("qemu-system-x86_64");
  if (qemu.empty())
    GTEST_SKIP() << "QEMU (qemu-system-x86_64) is not installed";
  for (const char* file :
       {kUbootX86Rom, kPxelinux, kLdlinux, kGrubNet, kOvmfCode, kOvmfVars}) {
    ASSERT_EQ(access(file, R_OK), 0) << file << ": tools/setup --tests";
  }
  const std::string mkimage = FindProgram("mkimage");
  ASSERT_FALSE(mkimage.empty()) << "tools/setup installs u-boot-tools";
  const std::string kernel = FindKernel();
  ASSERT_FALSE(kernel.empty()) << "tools/setup installs linux-image-amd64";
  const std::string busybox = ReadFile("/bin/busybox");
  ASSERT_FALSE(busybox.empty()) << "tools/setup installs busybox-static";

  std::vector<Machine> machines;
  std::string leases;
  for (int i = 0; i < 8; ++i) {
    const Firmware firmware = i < 3   ? Firmware::kUboot
                              : i < 6 ? Firmware::kPxelinux
                                      : Firmware::kOvmfGrub;
    Machine m{firmware, absl::StrCat("52:54:00:00:00:1", i),
              absl::StrCat("10.0.2.", 31 + i)};
    absl::StrAppend(&leases, "static_lease ", m.mac, " ", m.address, "\n");
    machines.push_back(m);
  }

  TempDir root;
  root.Write("vmlinuz", ReadFile(kernel));
  root.Write("initrd.cpio", MakeInitramfs(busybox));
  // U-Boot asks for boot.scr.uimg itself.
  TempDir work;
  work.Write("boot.cmd",
             "setenv bootargs console=ttyS0 quiet panic=-1\n"
             "tftpboot ${kernel_addr_r} vmlinuz\n"
             "tftpboot ${ramdisk_addr_r} initrd.cpio\n"
             "zboot ${kernel_addr_r} 0 ${ramdisk_addr_r} ${filesize}\n");
  const CommandResult image = RunCommand(
      {mkimage, "-A", "x86", "-T", "script", "-C", "none", "-n", "tftpd", "-d",
       work.Join("boot.cmd"), root.Join("boot.scr.uimg")});
  ASSERT_EQ(image.exit_code, 0) << image.output;
  // GRUB reads /grub/grub.cfg whatever its own name.
  ASSERT_EQ(mkdir(root.Join("grub").c_str(), 0755), 0);
  root.Write("grub/grub.cfg",
             "set timeout=0\n"
             "linux /vmlinuz console=ttyS0 quiet panic=-1\n"
             "initrd /initrd.cpio\n"
             "boot\n");
  // pxelinux takes its directory from the boot file name DHCP gave it, not
  // from the mapped path: its files are the root's.
  root.Write("ldlinux.c32", ReadFile(kLdlinux));
  ASSERT_EQ(mkdir(root.Join("pxelinux.cfg").c_str(), 0755), 0);
  root.Write("pxelinux.cfg/default",
             "DEFAULT linux\n"
             "LABEL linux\n"
             "  KERNEL vmlinuz\n"
             "  APPEND console=ttyS0 quiet panic=-1 initrd=initrd.cpio\n");
  for (const Machine& m : machines) {
    if (m.firmware == Firmware::kUboot) continue;
    ASSERT_EQ(mkdir(root.Join(m.address).c_str(), 0755), 0);
    if (m.firmware == Firmware::kOvmfGrub) {
      root.Write(m.address + "/pxeboot", ReadFile(kGrubNet));
    } else {
      root.Write(m.address + "/pxeboot", ReadFile(kPxelinux));
    }
  }
  TempDir config;
  config.Write("map", "r ^pxeboot$ \\i/pxeboot\n");

  TapNamespace tap(TapNamespace::Path::kDirect,
                   static_cast<int>(machines.size()));
  if (!tap.status().ok()) GTEST_SKIP() << tap.status().message();
  Udhcpd dhcp(tap, "pxeboot", leases);
  ASSERT_TRUE(dhcp.status().ok()) << dhcp.status();
  TftpdProcess server;
  TFTPD_START_OR_SKIP(server, root.path(),
                      {"--port=69", "--map_file=" + config.Join("map")},
                      "10.0.2.2");

  std::vector<CommandResult> boots(machines.size());
  std::vector<TempDir> firmware_dirs(machines.size());
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < machines.size(); ++i) {
    const Machine& m = machines[i];
    std::vector<std::string> argv = MachineArgs(qemu);
    std::string device = "virtio-net-pci";
    if (m.firmware == Firmware::kUboot) {
      for (std::string& arg : UbootX86Args()) argv.push_back(std::move(arg));
      device = "e1000";
    } else if (m.firmware == Firmware::kOvmfGrub) {
      for (std::string& arg : OvmfArgs(firmware_dirs[i])) {
        argv.push_back(std::move(arg));
      }
      device += ",romfile=";
    }
    for (std::string& arg : TapNamespace::NetdevArgs(
             absl::StrCat(device, ",mac=", m.mac), static_cast<int>(i))) {
      argv.push_back(std::move(arg));
    }
    threads.emplace_back(
        [&boots, i, argv] { boots[i] = RunCommand(argv, kBootLimit); });
  }
  for (std::thread& t : threads) t.join();
  std::printf(
      "eight machines booted in %.1f s\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  for (size_t i = 0; i < machines.size(); ++i) {
    EXPECT_TRUE(absl::StrContains(boots[i].output, kBootMarker))
        << machines[i].address << "\n"
        << boots[i].output;
  }
  // Each machine fetched its kernel and initramfs, and every transfer of
  // the storm completed.
  const std::string log = server.log();
  for (const Machine& m : machines) {
    SCOPED_TRACE(m.address);
    int fetched = 0;
    for (absl::string_view line : absl::StrSplit(log, '\n')) {
      if (absl::StrContains(line, absl::StrCat("peer=", m.address, ":")) &&
          (absl::StrContains(line, "vmlinuz ") ||
           absl::StrContains(line, "initrd.cpio "))) {
        ++fetched;
      }
    }
    EXPECT_EQ(fetched, 2) << log;
  }
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, " transfer peer=")) {
      EXPECT_TRUE(absl::StrContains(line, "outcome=completed") ||
                  // EDK2's size probe, which it ends itself.
                  absl::StrContains(line, "outcome=peer_error bytes=0 "))
          << line;
    }
  }
}

}  // namespace
}  // namespace tftpd::testing
