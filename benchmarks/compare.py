#!/usr/bin/env python3
"""Runs one load matrix against tftpd and against the TFTP servers people use
today (tftpd-hpa, atftpd, dnsmasq), and prints one table.

The peers come from Debian: their packages are downloaded with apt-get and
unpacked into a private directory (tftpd-hpa and atftpd conflict as packages,
and none of their services is ever started); only their libraries are
installed. Every server runs in the foreground on 127.0.0.1:69, one after the
other, pinned to CPU 0 and inside its own cgroups: cpuacct, so that CPU time
includes forked children (tftpd-hpa forks a process per transfer and ignores
SIGCHLD), and memory and pids, which bound what a server that forks or spawns
a thread per client may take of the machine in the hall cells (a refused fork
or thread is that server's failure, not the machine's). The load generator
(tools/loadgen) runs pinned to CPU 1. In the hall cells (--hall) the server
has the whole machine instead: it and the generator share both CPUs.

fbtftp and fbtftp-on-tftpd are one Python program, fbtftp's
examples/server.py, run on fbtftp itself (../shared/reference/fbtftp, or
--fbtftp) and on this project's Python package (python/), which stands in for
it: the same code, two engines.

Usage (as root, from the repository): benchmarks/compare.py [--quick]
            [--servers tftpd,tftpd-hpa,atftpd,dnsmasq] (also: tftpd-epoll,
            fbtftp, fbtftp-on-tftpd) [--cells a,b] [--json results.json]
            [--hall] [--repeat 3]
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_DIR = os.path.expanduser("~/.cache/tftpd-bench/peers")
FBTFTP = os.path.join(os.path.dirname(REPO), "shared", "reference", "fbtftp")
CGROUP_ROOT = "/sys/fs/cgroup"
# What one server may take: a third of this machine's memory, and fewer
# processes and threads than kernel.pid_max (32,768 here) leaves the rest.
CGROUP_LIMITS = {"memory": {"memory.limit_in_bytes": str(8 << 30)},
                 "pids": {"pids.max": "20000"}}
PORT = 69
MIB = 1 << 20

FILES = {"100m.bin": 100 * MIB, "4m.bin": 4 * MIB, "256k.bin": 256 * 1024,
         "1k.bin": 1024}

# name -> (file, transfers, concurrency, blksize, windowsize, extra flags)
CELLS = [
    # Single clients spin instead of sleeping, so that the generator adds as
    # little as it can to each round trip.
    ("1x100MiB blksize 512", "100m.bin", 1, 1, 512, 0, ["--busy_poll"]),
    ("1x100MiB blksize 1428", "100m.bin", 1, 1, 1428, 0, ["--busy_poll"]),
    ("1x100MiB blksize 8192", "100m.bin", 1, 1, 8192, 0, ["--busy_poll"]),
    ("1x100MiB 1428 window 16", "100m.bin", 1, 1, 1428, 16, ["--busy_poll"]),
    ("storm 1000x4MiB 1428", "4m.bin", 1000, 1000, 1428, 0, []),
    # Each transfer from a loopback address of its own on the generator's
    # shared socket: with a socket, bind and close per transfer the generator
    # kept its core 95% busy and bound the cell, not the server.
    ("5000x1KiB via 200", "1k.bin", 5000, 200, 0, 0, ["--shared_socket"]),
    ("5000x256KiB 1428", "256k.bin", 5000, 5000, 1428, 0, []),
    ("10000x256KiB 1428", "256k.bin", 10000, 10000, 1428, 0, []),
    ("UEFI 1000x4MiB 1468 w4", "4m.bin", 1000, 1000, 1468, 4,
     ["--uefi_probe"]),
]
HALL_CELLS = [
    # A hall of machines: more clients than the generator may hold sockets
    # (--shared_socket: each client a loopback address of its own), powered
    # on over 20 s. tftpd serves 19,000 in its default mode (a socket each,
    # as many as 20,000 descriptors allow) and 100,000 in single-port mode.
    # Here the server has the whole machine, as a boot server would: it and
    # the generator share both CPUs, unpinned (a server that forks or runs
    # threads uses both; tftpd runs a shard on each).
    ("19000x256KiB 1428", "256k.bin", 19000, 19000, 1428, 0,
     ["--shared_socket", "--ramp_up=20"]),
    ("100000x256KiB 1428 single port", "256k.bin", 100000, 100000, 1428, 0,
     ["--shared_socket", "--ramp_up=20"]),
    ("100000x256KiB 1428 single port 1% loss", "256k.bin", 100000, 100000,
     1428, 0, ["--shared_socket", "--ramp_up=20",
               "--inject_faults=loss=0.01,seed=3"]),
]
HALL_LABELS = {cell[0] for cell in HALL_CELLS}
# Cells for which tftpd runs with other flags (it is restarted for them).
TFTPD_CELL_FLAGS = {
    "19000x256KiB 1428": ["--threads=2"],
    "100000x256KiB 1428 single port": ["--threads=2", "--single_port",
                                       "--max_transfers=110000"],
    "100000x256KiB 1428 single port 1% loss": ["--threads=2", "--single_port",
                                               "--max_transfers=110000"],
}
QUICK_SCALE = {"100m.bin": "4m.bin"}

PEER_PACKAGES = ["tftpd-hpa", "atftpd", "dnsmasq-base"]
PEER_LIBRARIES = ["libwrap0", "libpcre2-8-0", "libdbus-1-3", "libgmp10",
                  "libhogweed6", "libidn2-0", "libnetfilter-conntrack3",
                  "libnettle8", "libnftables1"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def install_peers():
    binaries = {"tftpd-hpa": "usr/sbin/in.tftpd", "atftpd": "usr/sbin/atftpd",
                "dnsmasq": "usr/sbin/dnsmasq"}
    paths = {k: os.path.join(PEER_DIR, v) for k, v in binaries.items()}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    log("fetching tftpd-hpa, atftpd and dnsmasq from Debian ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"]
                   + PEER_LIBRARIES, check=True, env=env,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as download:
        result = subprocess.run(["apt-get", "download"] + PEER_PACKAGES,
                                cwd=download, env=env,
                                stdout=subprocess.DEVNULL)
        if result.returncode != 0:
            subprocess.run(["apt-get", "update"], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            subprocess.run(["apt-get", "download"] + PEER_PACKAGES,
                           cwd=download, env=env, check=True,
                           stdout=subprocess.DEVNULL)
        os.makedirs(PEER_DIR, exist_ok=True)
        for deb in os.listdir(download):
            subprocess.run(["dpkg-deb", "-x", os.path.join(download, deb),
                            PEER_DIR], check=True)
    return paths


def build_ours():
    log("building tftpd, tftp_loadgen and the limit benchmarks (-c opt)")
    subprocess.run(["bazel", "build", "-c", "opt", "//server:tftpd",
                    "//tools/loadgen:tftp_loadgen", "//python:package",
                    "//benchmarks:loopback_rtt_benchmark",
                    "//benchmarks:request_ceiling_benchmark"], cwd=REPO,
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    out = subprocess.run(["bazel", "info", "-c", "opt", "bazel-bin"], cwd=REPO,
                         check=True, capture_output=True, text=True)
    bin_dir = out.stdout.strip()
    # Copies: a later bazel build must not swap binaries under a running test.
    work = tempfile.mkdtemp(prefix="tftpd-bench-bin-")
    paths = {}
    for name, rel in [("tftpd", "server/tftpd"),
                      ("loadgen", "tools/loadgen/tftp_loadgen"),
                      ("rtt", "benchmarks/loopback_rtt_benchmark"),
                      ("ceiling", "benchmarks/request_ceiling_benchmark")]:
        paths[name] = os.path.join(work, name)
        shutil.copy(os.path.join(bin_dir, rel), paths[name])
    # The Python package: its sources with the extension beside them.
    paths["package"] = os.path.join(work, "python")
    for package in ("tftpd", "fbtftp"):
        shutil.copytree(os.path.join(REPO, "python", package),
                        os.path.join(paths["package"], package))
    shutil.copy(os.path.join(bin_dir, "python", "tftpd", "_core.so"),
                os.path.join(paths["package"], "tftpd"))
    return paths


def make_root():
    root = tempfile.mkdtemp(prefix="tftpd-bench-root-")
    os.chmod(root, 0o755)
    for name, size in FILES.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(size))
        os.chmod(os.path.join(root, name), 0o644)
    return root


def server_command(name, paths, root, cell_flags=()):
    if name in ("tftpd", "tftpd-epoll"):
        # tftpd-epoll: the fallback backend, to compare it with io_uring.
        backend = "epoll" if name == "tftpd-epoll" else "auto"
        # Room for the 10,000-client cells; each transfer holds a socket and
        # tftpd needs that many descriptors (hard limit here: 20,000).
        return [paths["tftpd"], "--root=" + root, "--address=127.0.0.1",
                "--port=%d" % PORT, "--threads=1", "--log_level=warning",
                "--max_transfers=19000", "--io_backend=" + backend] + list(
                    cell_flags)
    if name in ("fbtftp", "fbtftp-on-tftpd"):
        # fbtftp's example, unchanged; PYTHONPATH picks the engine (see
        # start_server).
        return ["/usr/bin/python3",
                os.path.join(paths["fbtftp"], "examples", "server.py"),
                "--ip", "127.0.0.1", "--port", str(PORT), "--root", root,
                "--retries", "5", "--timeout_s", "2"]
    if name == "tftpd-hpa":
        # Standalone, in the foreground; forks one process per transfer.
        return [paths["tftpd-hpa"], "--listen", "--foreground",
                "--address", "127.0.0.1:%d" % PORT, "--secure", root]
    if name == "atftpd":
        # A thread per transfer, capped by --maxthread (default 100): raised
        # so that the storm cells are not refused by configuration alone.
        return [paths["atftpd"], "--daemon", "--no-fork", "--port", str(PORT),
                "--bind-address", "127.0.0.1", "--maxthread", "20000",
                "--logfile", "/dev/null", root]
    if name == "dnsmasq":
        # TFTP only (DNS off), in the foreground; --tftp-max raised from the
        # default of 50 concurrent transfers.
        return [paths["dnsmasq"], "--keep-in-foreground", "--port=0",
                "--conf-file=/dev/null", "--no-hosts", "--no-resolv",
                "--listen-address=127.0.0.1", "--bind-interfaces",
                "--enable-tftp", "--tftp-root=" + root, "--tftp-max=20000",
                "--quiet-tftp", "--user=root", "--pid-file="]
    raise ValueError(name)


class Cgroup:
    """One server's cgroups (v1): cpuacct to count, memory and pids to bound."""

    def __init__(self, name):
        self.paths = {}
        for controller in ("cpuacct", "memory", "pids"):
            path = os.path.join(CGROUP_ROOT, controller, "tftpd-bench", name)
            os.makedirs(path, exist_ok=True)
            for knob, value in CGROUP_LIMITS.get(controller, {}).items():
                with open(os.path.join(path, knob), "w") as f:
                    f.write(value)
            self.paths[controller] = path

    def join_command(self):
        """Shell words that move the shell ($$) into every one of them."""
        return " && ".join("echo $$ > %s/cgroup.procs" % path
                           for path in self.paths.values())

    def cpu_seconds(self):
        with open(os.path.join(self.paths["cpuacct"], "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def remove(self):
        for path in self.paths.values():
            try:
                os.rmdir(path)
            except OSError:
                pass


def start_server(name, paths, root, cgroup, cell_flags=(), cpus="0"):
    command = server_command(name, paths, root, cell_flags)
    # Join the cgroups, then become the server pinned to its CPUs.
    wrapper = cgroup.join_command() + ' && exec taskset -c %s "$@"' % cpus
    env = dict(os.environ)
    if name == "fbtftp":
        env["PYTHONPATH"] = paths["fbtftp"]
    elif name == "fbtftp-on-tftpd":
        env["PYTHONPATH"] = paths["package"]
    proc = subprocess.Popen(["sh", "-c", wrapper, "sh"] + command,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    return proc


def run_loadgen(paths, args, time_limit, cpus="1"):
    command = ["taskset", "-c", cpus, paths["loadgen"], "--host=127.0.0.1",
               "--port=%d" % PORT, "--json", "--progress=false",
               "--time_limit=%d" % time_limit] + args
    out = subprocess.run(command, capture_output=True, text=True)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return None


def wait_ready(paths):
    for _ in range(50):
        result = run_loadgen(paths, ["--files=1k.bin", "--transfers=1",
                                     "--concurrency=1", "--timeout=0.1",
                                     "--retries=0"], 2)
        if result and result["transfers_ok"] == 1:
            return True
        time.sleep(0.1)
    return False


def reset_peak_rss(proc):
    """Starts a new peak-RSS measurement (Linux 4.0+: clear_refs 5)."""
    try:
        with open("/proc/%d/clear_refs" % proc.pid, "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_kib(proc):
    """The peak resident memory of the server's main process since the last
    reset (forked children, as tftpd-hpa's, are not included)."""
    try:
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def stop_server(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def port_free():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", PORT))
        return True
    except OSError:
        return False
    finally:
        s.close()


def run_server(name, paths, root, cells, time_limit, hall_time_limit):
    results = {}
    cgroup = Cgroup(name)
    flags, cpus = [], "0"
    proc = start_server(name, paths, root, cgroup)
    if not wait_ready(paths):
        stop_server(proc)
        log("%s did not come up on port %d" % (name, PORT))
        return results
    for cell in cells:
        label, file, transfers, concurrency, blksize, window, extra = cell
        hall = label in HALL_LABELS
        wanted = (TFTPD_CELL_FLAGS.get(label, [])
                  if name.startswith("tftpd") and name != "tftpd-hpa" else [])
        wanted_cpus = "0-1" if hall else "0"
        if (wanted, wanted_cpus) != (flags, cpus):
            stop_server(proc)
            flags, cpus = wanted, wanted_cpus
            proc = start_server(name, paths, root, cgroup, flags, cpus)
            wait_ready(paths)
        args = ["--files=" + file, "--transfers=%d" % transfers,
                "--concurrency=%d" % concurrency,
                "--verify_dir=" + root] + extra
        if blksize:
            args.append("--blksize=%d" % blksize)
        if window:
            args.append("--windowsize=%d" % window)
        if proc.poll() is not None:
            log("  %s exited; restarting it" % name)
            proc = start_server(name, paths, root, cgroup, flags, cpus)
            wait_ready(paths)
        cpu_before = cgroup.cpu_seconds()
        reset_peak_rss(proc)
        if hall:
            report = run_loadgen(paths, args + ["--threads=2"],
                                 hall_time_limit, cpus="0-1")
        else:
            report = run_loadgen(paths, args, time_limit)
        cpu = cgroup.cpu_seconds() - cpu_before
        if report is None:
            report = {"transfers_ok": 0, "transfers_failed": transfers,
                      "failures": {"loadgen_failed": transfers}}
        report["server_cpu_seconds"] = cpu
        report["server_peak_rss_kib"] = peak_rss_kib(proc)
        results[label] = report
        log("  %-26s %5d ok %5d failed  %8.1f MB/s  %8.1f tr/s  cpu %.2f s"
            % (label, report["transfers_ok"], report["transfers_failed"],
               report.get("mb_per_second", 0),
               report.get("transfers_per_second", 0), cpu))
    stop_server(proc)
    cgroup.remove()
    return results


def benchmark_medians(binary):
    """Each benchmark's median of 3 repetitions, by run name."""
    out = subprocess.run([binary, "--benchmark_format=json",
                          "--benchmark_repetitions=3",
                          "--benchmark_report_aggregates_only=true"],
                         capture_output=True, text=True, check=True)
    return {b["run_name"]: b for b in json.loads(out.stdout)["benchmarks"]
            if b.get("aggregate_name") == "median"}


def loopback_limits(paths):
    """MB/s (10^6 bytes) a lock-step client can reach, per blksize: with
    both sides blocking in recv, and with both spinning (the true limit)."""
    limits = {"blocking": {}, "spinning": {}}
    for name, b in benchmark_medians(paths["rtt"]).items():
        kind = "spinning" if name.startswith("BM_Spinning") else "blocking"
        limits[kind][int(name.split("/")[1])] = b["bytes_per_second"] / 1e6
    return limits


def request_ceiling(paths):
    """Transfers/s of the cheapest RRQ -> DATA -> ACK exchange in the 1 KiB
    cell's shape (benchmarks/request_ceiling_benchmark.cc)."""
    medians_by_name = benchmark_medians(paths["ceiling"])
    return next(iter(medians_by_name.values()))["transfers_per_second"]


def headline(label, report):
    """The figure each cell is judged by (bigger is better), and its unit."""
    if "1KiB" in label:
        return report.get("transfers_per_second", 0), "transfers/s"
    return report.get("mb_per_second", 0), "MB/s"


def cpu_per_gb(report):
    gb = report.get("bytes", 0) / 1e9
    return report["server_cpu_seconds"] / gb if gb > 0 else float("nan")


def medians(runs):
    """Per cell, the run whose headline figure is the median of the runs."""
    result = {}
    for label in {label for run in runs for label in run}:
        reports = sorted((run[label] for run in runs if label in run),
                         key=lambda r: headline(label, r)[0])
        result[label] = dict(reports[(len(reports) - 1) // 2],
                             runs=len(reports))
    return result


def print_table(all_results, servers, cells):
    print("| cell | server | ok | failed | figure | p99 latency | server CPU "
          "| CPU s/GB | peak RSS | vs best peer |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for cell in cells:
        label = cell[0]
        peers = [s for s in servers if (not s.startswith("tftpd") or
                 s == "tftpd-hpa") and not s.startswith("fbtftp")]
        peers = [s for s in peers if label in all_results.get(s, {})]
        best_peer = max((headline(label, all_results[s][label])[0]
                         for s in peers), default=0)
        for server in servers:
            report = all_results.get(server, {}).get(label)
            if report is None:
                continue
            value, unit = headline(label, report)
            ratio = ("%.2fx" % (value / best_peer)
                     if server in ("tftpd", "tftpd-epoll") and best_peer > 0
                     else "")
            fbtftp = all_results.get("fbtftp", {}).get(label)
            if server == "fbtftp-on-tftpd" and fbtftp:
                base = headline(label, fbtftp)[0]
                ratio = "%.1fx fbtftp" % (value / base) if base > 0 else "fbtftp: 0"
            failures = ", ".join("%s %d" % kv for kv in
                                 sorted(report.get("failures", {}).items()))
            print("| %s | %s | %d | %d%s | %.1f %s | %.3f s | %.2f s | %.2f "
                  "| %.1f MiB | %s |" % (
                      label, server, report["transfers_ok"],
                      report["transfers_failed"],
                      " (%s)" % failures if failures else "",
                      value, unit,
                      report.get("latency_seconds", {}).get("p99", 0),
                      report["server_cpu_seconds"], cpu_per_gb(report),
                      report["server_peak_rss_kib"] / 1024, ratio))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", default="tftpd,tftpd-hpa,atftpd,dnsmasq")
    parser.add_argument("--cells", default="",
                        help="comma-separated substrings of cell names")
    parser.add_argument("--quick", action="store_true",
                        help="4 MiB instead of 100 MiB for single clients")
    parser.add_argument("--time_limit", type=int, default=300,
                        help="seconds per cell")
    parser.add_argument("--hall_time_limit", type=int, default=400,
                        help="seconds per hall cell: what a server has not "
                        "served by then counts as failed (tftpd needs about "
                        "230 s for the slowest)")
    parser.add_argument("--json", default="", help="write results here too")
    parser.add_argument("--hall", action="store_true",
                        help="add the cells of a hall of machines (19,000 "
                        "and 100,000 clients: many minutes per server)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each cell; the table gives the median")
    parser.add_argument("--fbtftp", default=FBTFTP,
                        help="fbtftp's source (for fbtftp, fbtftp-on-tftpd)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("compare.py needs root (port 69, cgroups, apt-get)")
    # Every server may open as many descriptors as this host allows (tftpd
    # raises its own limit; the peers would otherwise keep the soft one).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if not port_free():
        sys.exit("port 69 on 127.0.0.1 is in use; stop that server first")
    if os.cpu_count() < 2:
        log("warning: one CPU; servers and load generator will share it")
    servers = args.servers.split(",")
    cells = [c for c in CELLS + (HALL_CELLS if args.hall else [])
             if not args.cells or
             any(s in c[0] for s in args.cells.split(","))]
    if args.quick:
        cells = [(c[0], QUICK_SCALE.get(c[1], c[1])) + c[2:] for c in cells]
    paths = dict(install_peers())
    paths.update(build_ours())
    paths["fbtftp"] = args.fbtftp
    limits = loopback_limits(paths)
    ceilings = []  # One per round.
    root = make_root()
    all_results = {}
    runs = {server: [] for server in servers}
    try:
        # Rounds of every server in turn, so that a machine whose speed
        # drifts (a shared host) touches each server alike.
        for round_number in range(max(1, args.repeat)):
            # The ceiling beside each round, not once: this machine's speed
            # drifts by half within minutes, and a cell's share of the
            # ceiling means something only against the ceiling of its time.
            ceilings.append(request_ceiling(paths))
            for server in servers:
                log("%s (run %d of %d):" % (server, round_number + 1,
                                            max(1, args.repeat)))
                runs[server].append(
                    run_server(server, paths, root, cells, args.time_limit,
                               args.hall_time_limit))
                if args.json:
                    # Every run so far, for a matrix cut short.
                    with open(args.json + ".runs", "w") as f:
                        json.dump(runs, f, indent=1)
        all_results = {server: medians(runs[server]) for server in servers}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for kind in ("blocking", "spinning"):
        print("Loopback lock-step limit (%s ping-pong, one CPU each): " % kind +
              ", ".join("blksize %d: %.1f MB/s" % kv
                        for kv in sorted(limits[kind].items())))
    ceiling = statistics.median(ceilings)
    print("Per-request ceiling (syscalls alone, 1 KiB through 200 clients): "
          "%.0f transfers/s (median; by round: %s)" % (
              ceiling, ", ".join("%.0f" % c for c in ceilings)))
    for server in servers:
        for label in all_results[server]:
            if "1KiB" not in label:
                continue
            # Each round's figure against that round's ceiling.
            shares = [100 * run[label].get("transfers_per_second", 0) / c
                      for run, c in zip(runs[server], ceilings)
                      if run.get(label) and c > 0]
            if shares:
                print("  %s, %s: %.0f%% of it (median; by round: %s)" % (
                    server, label, statistics.median(shares),
                    ", ".join("%.0f%%" % x for x in shares)))
    print()
    print_table(all_results, servers, cells)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"loopback_limit_mb_per_second": limits,
                       "request_ceiling_transfers_per_second": ceiling,
                       "request_ceiling_by_round": ceilings,
                       "results": all_results}, f, indent=1)


if __name__ == "__main__":
    main()
