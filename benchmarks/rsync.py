#!/usr/bin/env python3
"""rsync against HTTP for one third-party feed, on loopback.

Two sigctl installations take the same feed from the same directory: one through
the loopback HTTP mirror (Tests/Support/mirror.py, transport = "http"), one through
a real `rsync --daemon` (Tests/Support/rsyncd.py, transport = "rsync"). Cycles:
  first sync, no change, then --changes cycles in which the files change the way a
  Sanesecurity update changes them (lines added at the end, a few withdrawn).
For each cycle and transport it prints the bytes on the wire (HTTP: response bodies
the mirror sent; rsync: both directions, from the "sent N bytes  received M bytes"
line the daemon logs per session, so the block checksums sigctl sends count too), the
requests or connections, and sigctl update's wall time (clamd = "none"; each run
still verifies the set with libclamav).

The feed is Sanesecurity's real files from ../shared/fixtures (when present) plus
one generated bulk file of --bulk signatures, since the real files there are small.

Usage: benchmarks/rsync.py [--sigctl PATH] [--bulk 100000] [--changes 3]
"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import FIXTURES, ROOT, release_binary, stop
from common import publish as publish_file
from fleet import announce, log_lines, node
from update_cycle import generated


def feed_files(upstream, bulk):
    """Writes the feed into `upstream`; returns the file names."""
    names = []
    real = os.path.join(FIXTURES, "thirdparty", "sanesecurity")
    if os.path.isdir(real):
        for name in sorted(os.listdir(real)):
            publish_file(upstream, name, open(os.path.join(real, name), "rb").read())
            names.append(name)
    publish_file(upstream, "bulk.ndb", generated(bulk, "bulk"))
    names.append("bulk.ndb")
    return names


def change(upstream, names, rng, cycle):
    """A typical update: each .ndb gains 0.5% new lines at the end and loses 0.2%."""
    for name in names:
        if not name.endswith(".ndb"):
            continue
        lines = open(os.path.join(upstream, name), "rb").read().splitlines()
        drop = set(rng.sample(range(len(lines)), len(lines) // 500))
        kept = [line for i, line in enumerate(lines) if i not in drop]
        added = generated(max(1, len(lines) // 200), f"c{cycle}-{name.split('.')[0]}").splitlines()
        publish_file(upstream, name, b"\n".join(kept + added) + b"\n")


def run(binary, conf):
    """sigctl update; returns its wall seconds."""
    start = time.monotonic()
    proc = subprocess.run([binary, "update"], env=dict(os.environ, SIGCTL_CONFIG=conf),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"sigctl update ({conf}) exited {proc.returncode}: {proc.stderr[-2000:]}")
    return wall


def daemon_bytes(log):
    """Bytes the rsync daemon logged per session (sent plus received), in order."""
    if not os.path.exists(log):
        return []
    text = open(log).read().replace(",", "")
    return [int(a) + int(b) for a, b in re.findall(r"sent (\d+) bytes\s+received (\d+) bytes", text)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigctl")
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=3)
    args = parser.parse_args()
    binary = release_binary(args.sigctl)
    work = tempfile.mkdtemp(prefix="sigctl-rsync-bench-")
    procs = []
    try:
        upstream = os.path.join(work, "upstream", "ss")
        names = feed_files(upstream, args.bulk)
        size = sum(os.path.getsize(os.path.join(upstream, n)) for n in names)
        http_log = os.path.join(work, "http.log")
        proc, http_port = announce([sys.executable, os.path.join(ROOT, "Tests/Support/mirror.py"), "--root",
                                    os.path.join(work, "upstream"), "--port-file", os.path.join(work, "http.port"),
                                    "--log", http_log], "mirror:")
        procs.append(proc)
        daemon_log = os.path.join(work, "rsyncd.log")
        with open(os.path.join(work, "rsyncd.conf"), "w") as f:
            f.write(f"use chroot = no\nlog file = {daemon_log}\n[feeds]\npath = {work}/upstream\nread only = yes\n")
        rsync_log = os.path.join(work, "rsyncd.connections")
        proc, rsync_port = announce([sys.executable, os.path.join(ROOT, "Tests/Support/rsyncd.py"), "--config",
                                     os.path.join(work, "rsyncd.conf"), "--log", rsync_log], "rsyncd:")
        procs.append(proc)

        nodes = {}
        for transport, mirror in (("http", f"http://127.0.0.1:{http_port}/ss/"),
                                  ("rsync", f"rsync://127.0.0.1:{rsync_port}/feeds/ss/")):
            conf = node(work, transport)
            with open(os.path.join(conf, "feeds.d", "ss.toml"), "w") as f:
                f.write(f'mirrors = ["{mirror}"]\ntransport = "{transport}"\ninterval = "0s"\nintegrity = "sha256"\n')
                for name in names:
                    f.write(f'[[files]]\nname = "{name}"\n')
            nodes[transport] = conf

        def connections():
            return len(open(rsync_log).read().splitlines()) if os.path.exists(rsync_log) else 0

        print(f"sigctl {binary}")
        print(f"feed: {len(names)} files, {size:,} bytes ({len(names) - 1} real Sanesecurity files + bulk.ndb"
              f" of {args.bulk:,} generated signatures)")
        rng = random.Random(62)
        totals = {"http": [], "rsync": []}
        cycles = ["first sync", "no change"] + [f"change {i + 1}" for i in range(args.changes)]
        for index, cycle in enumerate(cycles):
            if cycle.startswith("change"):
                change(upstream, names, rng, index)
            http_before, conn_before = len(log_lines(http_log)), connections()
            sessions_before = len(daemon_bytes(daemon_log))
            http_wall = run(binary, nodes["http"])
            requests = log_lines(http_log)[http_before:]
            http_bytes = sum(r["bytes"] or 0 for r in requests)
            rsync_wall = run(binary, nodes["rsync"])
            rsync_bytes = sum(daemon_bytes(daemon_log)[sessions_before:])
            for transport, value in (("http", http_bytes), ("rsync", rsync_bytes)):
                if cycle.startswith("change"):
                    totals[transport].append(value)
            print(f"{cycle:<12} http {http_bytes:11,d} bytes {len(requests):3d} requests {http_wall * 1000:7.1f} ms"
                  f" | rsync {rsync_bytes:11,d} bytes {connections() - conn_before:3d} connections {rsync_wall * 1000:7.1f} ms",
                  flush=True)
        if totals["http"]:
            http, rsync = statistics.median(totals["http"]), statistics.median(totals["rsync"])
            print(f"changed cycles, median: http {http:,.0f} bytes, rsync {rsync:,.0f} bytes"
                  f" ({rsync / http * 100:.1f}% of http)")
    finally:
        stop(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
