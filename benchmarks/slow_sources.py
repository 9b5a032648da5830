#!/usr/bin/env python3
"""N slow sources beside 1,000 fast transfers on the Python package: how
long the fast ones take, against the same run with no slow source.

The server (benchmarks/slow_sources_server.py) is pinned to CPU 0; N clients
(tools/loadgen, on CPU 1) each start reading a 1 MiB response whose origin
takes 0.2 s per read, and go on for the whole run; once they have had a
second to start, 1,000 clients, each from its own loopback address, read
1 MiB from memory, lock-step, blksize 1428. Each cell is repeated; the table
gives the fast transfers' medians and their ratio to N = 0.

Usage (as root, from the repository): benchmarks/slow_sources.py
            [--slow 0,4,64,1000] [--repeat 3] [--source_threads N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (its build and process helpers)

HERE = os.path.dirname(os.path.abspath(__file__))


def start_server(paths, source_threads):
    command = ["taskset", "-c", "0", "/usr/bin/python3",
               os.path.join(HERE, "slow_sources_server.py")]
    if source_threads:
        command.append("--source_threads=%d" % source_threads)
    env = dict(os.environ, PYTHONPATH=paths["package"])
    return subprocess.Popen(command, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def start_slow_clients(paths, count):
    if count == 0:
        return None
    return subprocess.Popen(
        ["taskset", "-c", "1", paths["loadgen"], "--host=127.0.0.1",
         "--port=69", "--progress=false", "--files=slow",
         "--transfers=%d" % count, "--concurrency=%d" % count,
         "--shared_socket", "--timeout=2", "--retries=5",
         "--time_limit=600"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)


def fast_run(paths):
    return compare.run_loadgen(
        paths, ["--files=fast", "--transfers=1000", "--concurrency=1000",
                "--shared_socket", "--blksize=1428", "--ramp_up=1"], 300)


def ready(paths):
    result = compare.run_loadgen(paths, ["--files=probe", "--transfers=1",
                                         "--concurrency=1"], 10)
    return result is not None and result["transfers_ok"] == 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", default="0,4,64,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--source_threads", type=int, default=0)
    args = parser.parse_args()
    paths = compare.build_ours()
    rows = {}
    for _ in range(args.repeat):
        for count in [int(n) for n in args.slow.split(",")]:
            server = start_server(paths, args.source_threads)
            try:
                for _ in range(100):
                    if ready(paths):
                        break
                slow = start_slow_clients(paths, count)
                time.sleep(1)  # The slow clients' requests are in.
                report = fast_run(paths) or {}
            finally:
                if slow is not None:
                    compare.stop_server(slow)
                compare.stop_server(server)
            rows.setdefault(count, []).append(report)
            compare.log("slow %4d: %s ok, %.2f s, %.1f MB/s, p50 %.3f s, "
                        "p99 %.3f s" % (
                            count, report.get("transfers_ok"),
                            report.get("wall_seconds", 0),
                            report.get("mb_per_second", 0),
                            report.get("latency_seconds", {}).get("p50", 0),
                            report.get("latency_seconds", {}).get("p99", 0)))
    base = None
    print("| slow sources | fast ok | wall s | MB/s | p50 s | p99 s | wall vs none |")
    print("|---|---|---|---|---|---|---|")
    for count, reports in rows.items():
        def median(key, sub=None):
            values = [(r.get(key, {}) or {}).get(sub, 0) if sub else r.get(key, 0)
                      for r in reports]
            return statistics.median(values)
        wall = median("wall_seconds")
        if count == 0:
            base = wall
        print("| %d | %d | %.2f | %.1f | %.3f | %.3f | %s |" % (
            count, median("transfers_ok"), wall, median("mb_per_second"),
            median("latency_seconds", "p50"), median("latency_seconds", "p99"),
            "%.2fx" % (wall / base) if base else "-"))


if __name__ == "__main__":
    main()
