// What the network-boot tests share: the Linux kernel and initramfs each
// guest boots to (its init prints what it received and a marker, then
// powers off), QEMU's common arguments, and a network namespace with a tap
// device where a firmware's DHCP and TFTP reach our server on port 69.
#ifndef TFTPD_TESTS_INTEGRATION_BOOT_MACHINE_H_
#define TFTPD_TESTS_INTEGRATION_BOOT_MACHINE_H_

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

// OVMF (Debian's ovmf) as the machine's UEFI firmware: its code read-only,
// and a fresh copy of its variable store written to `dir`/vars.fd.
inline constexpr char kOvmfCode[] = "/usr/share/OVMF/OVMF_CODE_4M.fd";
inline constexpr char kOvmfVars[] = "/usr/share/OVMF/OVMF_VARS_4M.fd";
std::vector<std::string> OvmfArgs(const TempDir& dir);

// The test process in a network namespace of its own while this lives, with
// `lo` up and a tap device tap0 holding 10.0.2.2/24: the server's address,
// which a guest on that tap device reaches. Back to the original namespace
// on destruction (other tests run after). status() says why it could not
// be made; a skip, as the kernel may lack tap devices or namespaces.
class TapNamespace {
 public:
  TapNamespace();
  ~TapNamespace();
  TapNamespace(const TapNamespace&) = delete;
  TapNamespace& operator=(const TapNamespace&) = delete;

  const absl::Status& status() const { return status_; }
  // QEMU's -netdev for a guest on tap0.
  static std::vector<std::string> NetdevArgs(const std::string& device);

 private:
  int original_ = -1;
  absl::Status status_;
};

// busybox's udhcpd on tap0, leasing 10.0.2.15 to .20 with 10.0.2.2 as the
// next server and router, and `boot_file` as the boot file name.
class Udhcpd {
 public:
  explicit Udhcpd(const std::string& boot_file);
  absl::Status status() const { return status_; }
  std::string log() const { return process_.log(); }

 private:
  TempDir config_;
  BackgroundProcess process_;
  absl::Status status_;
};

}  // namespace tftpd::testing

#endif  // TFTPD_TESTS_INTEGRATION_BOOT_MACHINE_H_
