// What the network-boot tests share: the Linux kernel and initramfs each
// guest boots to (its init prints what it received and a marker, then
// powers off), QEMU's common arguments, and a network namespace with a tap
// device where a firmware's DHCP and TFTP reach our server on port 69.
#ifndef TFTPD_TESTS_INTEGRATION_BOOT_MACHINE_H_
#define TFTPD_TESTS_INTEGRATION_BOOT_MACHINE_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tests/integration/tftpd_process.h"

namespace tftpd::testing {

// What the initramfs's init prints once Linux runs it.
inline constexpr char kBootMarker[] = "TFTPD-PXE-BOOT-OK";

// The newest kernel Debian's linux-image package put in /boot ("" if none).
std::string FindKernel();

// An initramfs in the kernel's "newc" cpio format: `busybox` (a static
// build's bytes) as /bin/busybox, /dev/console, an empty /files, and an init
// that prints the SHA-256 of each file in /files, then kBootMarker, then
// powers off.
std::string MakeInitramfs(const std::string& busybox);

// file name -> SHA-256 (hex), from sha256sum's "<hash>  <name>" lines.
std::map<std::string, std::string> Sha256Lines(const std::string& output);

// QEMU's options for a machine of 1 GiB with software emulation, its serial
// console on standard output and nothing else attached. Not KVM: on the
// machines the suite runs on, /dev/kvm opens but every firmware tried
// (SeaBIOS with iPXE, OVMF, U-Boot's SPL) stops at once with "KVM internal
// error" (an emulation failure; the host is itself a virtual machine).
std::vector<std::string> MachineArgs(const std::string& qemu);

// Runs `argv` (a QEMU machine) within `limit` and prints how long the boot
// named `name` took.
CommandResult TimedBoot(const std::string& name,
                        const std::vector<std::string>& argv,
                        std::chrono::seconds limit);

// OVMF (Debian's ovmf) as the machine's UEFI firmware: its code read-only,
// and a fresh copy of its variable store written to `dir`/vars.fd.
inline constexpr char kOvmfCode[] = "/usr/share/OVMF/OVMF_CODE_4M.fd";
inline constexpr char kOvmfVars[] = "/usr/share/OVMF/OVMF_VARS_4M.fd";
std::vector<std::string> OvmfArgs(const TempDir& dir);
// The same for ARM64 UEFI (Debian's qemu-efi-aarch64), with QEMU's virt
// board and CPU before them.
inline constexpr char kAavmfCode[] = "/usr/share/AAVMF/AAVMF_CODE.fd";
inline constexpr char kAavmfVars[] = "/usr/share/AAVMF/AAVMF_VARS.fd";
std::vector<std::string> AavmfArgs(const TempDir& dir);
// U-Boot's x86 build (Debian's u-boot-qemu) as the machine's firmware,
// with no display adapter: U-Boot runs a VGA card's option ROM before it
// starts its network, and under a loaded host that step has hung a boot
// for minutes. The guests print to the serial console alone. -bios last.
inline constexpr char kUbootX86Rom[] = "/usr/lib/u-boot/qemu-x86/u-boot.rom";
std::vector<std::string> UbootX86Args();
// QEMU's arm64 machine, for MachineArgs: the virt board, a Cortex-A57.
std::vector<std::string> Arm64BoardArgs();

// tools/fetch_arm64_guest's directory ($TFTPD_ARM64_GUEST, or its default):
// Debian's arm64 kernel (Image), busybox and grubnetaa64.efi.
std::string Arm64Guest();

// The test process in a network namespace of its own while this lives, with
// `lo` up and a tap device, tap0, holding 10.0.2.2/24 and fd00:2::2/64, on
// which a guest reaches the server. Back to the original namespace on
// destruction (other tests run after). status() says why it could not be made:
// a skip, as the kernel may lack tap devices or namespaces.
//
// kThroughNat puts a router between them, as a boot network behind a NAT
// is: tap0 (10.0.2.2, the guests' router) in a second namespace, joined to
// the test's by a veth pair (10.0.3.1 there, 10.0.3.2 here, the server),
// masquerading (nftables) what the guests send. A guest-side program (QEMU,
// the DHCP server) runs there through GuestSide.
class TapNamespace {
 public:
  enum class Path { kDirect, kThroughNat };
  // `machines` > 1 (kDirect only): tap0, tap1, ... on a bridge, br0, which
  // holds 10.0.2.2 instead.
  explicit TapNamespace(Path path = Path::kDirect, int machines = 1);
  ~TapNamespace();
  TapNamespace(const TapNamespace&) = delete;
  TapNamespace& operator=(const TapNamespace&) = delete;

  const absl::Status& status() const { return status_; }
  // Where tftpd listens, and the guests' next server.
  std::string server_address() const;
  // The same over IPv6 (kDirect only).
  static constexpr char kServerAddress6[] = "fd00:2::2";
  // `argv`, run in the namespace that holds tap0.
  std::vector<std::string> GuestSide(std::vector<std::string> argv) const;
  // Where the guests' DHCP server listens: tap0, or br0.
  const std::string& link() const { return link_; }
  // QEMU's -netdev for a guest on tap<index>.
  static std::vector<std::string> NetdevArgs(const std::string& device,
                                             int index = 0);

 private:
  absl::Status MakeRouter(const std::string& ip);

  int original_ = -1;
  std::string router_;  // The router namespace's name, with kThroughNat.
  std::string link_ = "tap0";
  absl::Status status_;
};

// busybox's udhcpd on the guests' link, leasing 10.0.2.15 to .40, with
// 10.0.2.2 as the router, the server as the next server, and `boot_file` as
// the boot file; `more` is added to its configuration (static leases).
class Udhcpd {
 public:
  Udhcpd(const TapNamespace& tap, const std::string& boot_file,
         const std::string& more = "");
  absl::Status status() const { return status_; }
  std::string log() const { return process_.log(); }

 private:
  TempDir config_;
  BackgroundProcess process_;
  absl::Status status_;
};

// dnsmasq (dnsmasq-base) on the guests' link as their DHCPv6 server and
// router, leasing fd00:2::100 to ::1ff and advertising the prefix, with
// `boot_file_url` as the boot file URL (DHCPv6 option 59). DNS is off.
class Dnsmasq6 {
 public:
  Dnsmasq6(const TapNamespace& tap, const std::string& boot_file_url);
  absl::Status status() const { return status_; }
  std::string log() const { return process_.log(); }

 private:
  TempDir state_;
  BackgroundProcess process_;
  absl::Status status_;
};

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_INTEGRATION_BOOT_MACHINE_H_
