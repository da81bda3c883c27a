#!/usr/bin/env python3
"""sigctl update benchmarks on loopback.

Prints:
  1. the no-change cycle (every feed due, every file answered 304): wall time and
     peak RSS of `sigctl update`, median of N runs;
  2. a changed cycle split by phase (fetch, check, verify, install, reload confirmed);
  3. the verify phase against a bare libclamav load + compile of the same set
     (benchmarks/bare_load.c), as a ratio.

It starts its own loopback mirror (Tests/Support/mirror.py) and clamd in a
temporary directory. With ../shared/fixtures present it serves the real
third-party databases there (11 files in 5 feeds); otherwise it generates 12
files of signatures.

Usage: benchmarks/update_cycle.py [--sigctl PATH] [--runs N]
(default binary: a release build, made with `swift build -c release` if missing)
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from common import FIXTURES, ROOT, measured, release_binary, stop
from common import publish as common_publish


def run_measured(argv, env):
    """Runs a command, returns (exit code, stdout, wall seconds)."""
    code, out, wall, _ = measured(argv, env, capture=True)
    return code, out, wall


def rss_of(argv, env):
    """Peak RSS (KiB) of one run, its waited-for children included."""
    return measured(argv, env)[3] * 1024


def publish(mirror, feed, name, data):
    common_publish(os.path.join(mirror, feed), name, data)


def generated(count, prefix):
    lines = []
    for i in range(count):
        marker = f"sigctl-bench {prefix}-{i} {uuid.uuid4()}".encode().hex()
        lines.append(f"Bench.{prefix}-{i}:0:*:{marker}")
    return ("\n".join(lines) + "\n").encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigctl")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    binary = release_binary(args.sigctl)
    work = tempfile.mkdtemp(prefix="sigctl-bench-")
    procs = []
    try:
        mirror, db, state, conf = (os.path.join(work, d) for d in ("mirror", "db", "state", "etc"))
        for d in (mirror, db, state, os.path.join(conf, "feeds.d"), os.path.join(work, "tmp")):
            os.makedirs(d)
        feeds = {}
        third = os.path.join(FIXTURES, "thirdparty")
        if os.path.isdir(third):
            layout = {
                "sanesecurity": ["jurlbla.ndb", "lott.ndb", "spam.ldb", "phishtank.ndb",
                                 "winnow_phish_complete.ndb", "winnow_spam_complete.ndb"],
                "securiteinfo": ["securiteinfo.ign2", "spam_marketing.ndb"],
                "urlhaus": ["urlhaus.ndb"],
                "rfxn": ["rfxn.ndb"],
            }
            for feed, files in layout.items():
                for name in files:
                    publish(mirror, feed, name, open(os.path.join(third, feed, name), "rb").read())
                feeds[feed] = files
            publish(mirror, "clamtest", "clamav.hdb",
                    open(os.path.join(FIXTURES, "mail", "clamav-testfiles", "clamav.hdb"), "rb").read())
            feeds["clamtest"] = ["clamav.hdb"]
            source = "real third-party databases from ../shared/fixtures"
        else:
            for f in range(4):
                feeds[f"gen{f}"] = []
                for i in range(3):
                    name = f"bench{f}_{i}.ndb"
                    publish(mirror, f"gen{f}", name, generated(3000, f"{f}-{i}"))
                    feeds[f"gen{f}"].append(name)
            source = "generated signatures (12 files x 3000)"
        nfiles = sum(len(v) for v in feeds.values())

        port_file = os.path.join(work, "port")
        procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/Support/mirror.py"), "--root", mirror,
                                       "--port-file", port_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        port = int(open(port_file).read())

        with open(os.path.join(db, "local.ndb"), "w") as f:
            f.write("Local.Bench-1:0:*:" + b"local bench marker".hex() + "\n")
        sock = os.path.join(work, "clamd.sock")
        with open(os.path.join(work, "clamd.conf"), "w") as f:
            f.write(f"LocalSocket {sock}\nDatabaseDirectory {db}\nTemporaryDirectory {work}/tmp\n"
                    f"Foreground yes\nConcurrentDatabaseReload yes\nLogFile {work}/clamd.log\n")
        procs.append(subprocess.Popen(["clamd", f"--config-file={work}/clamd.conf"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(600):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
                s.sendall(b"zPING\0")
                if s.recv(16).startswith(b"PONG"):
                    break
            except OSError:
                time.sleep(0.05)
        with open(os.path.join(conf, "sigctl.toml"), "w") as f:
            f.write(f'database_dir = "{db}"\nstate_dir = "{state}"\nclamd_conf = "{work}/clamd.conf"\nsleep = "0"\n')
        for feed, files in feeds.items():
            with open(os.path.join(conf, "feeds.d", feed + ".toml"), "w") as f:
                f.write(f'mirrors = ["http://127.0.0.1:{port}/{feed}/"]\ninterval = "0s"\nintegrity = "sha256"\n')
                if feed == "securiteinfo":
                    # As in the shipped securiteinfo.toml: its ignore list silences ClamAV false positives.
                    f.write("may_silence = true\n")
                for name in files:
                    f.write(f'[[files]]\nname = "{name}"\n')
        env = dict(os.environ, SIGCTL_CONFIG=conf)
        update = [binary, "update", "--json"]

        code, out, first = run_measured(update, env)
        if code != 0:
            sys.exit(f"first update failed with exit {code}: {out}")
        first_report = json.loads(out)

        times, rss = [], []
        for _ in range(args.runs):
            code, out, elapsed = run_measured(update, env)
            report = json.loads(out)
            assert code == 0 and not report["installed"], out
            times.append(elapsed)
            rss.append(rss_of(update, env))

        # A changed cycle: one feed publishes a bigger file.
        feed0 = next(iter(feeds))
        name0 = feeds[feed0][0]
        path0 = os.path.join(mirror, feed0, name0)
        publish(mirror, feed0, name0, open(path0, "rb").read() + generated(500, "changed"))
        code, out, changed_wall = run_measured(update, env)
        changed = json.loads(out)
        if code != 0 or not changed["installed"]:
            sys.exit(f"changed update failed with exit {code}: {out}")

        bare_src = os.path.join(ROOT, "benchmarks", "bare_load.c")
        bare_bin = os.path.join(work, "bare_load")
        subprocess.run(["gcc", "-O2", "-o", bare_bin, bare_src, "-lclamav"], check=True)
        bare = []
        for _ in range(5):
            out = subprocess.run([bare_bin, db], check=True, capture_output=True, text=True).stdout.split()
            bare.append(float(out[0]))
        bare_median = statistics.median(bare)

        phases = changed["phases"]
        print(f"sigctl update benchmark — {source}; {nfiles} feed files in {len(feeds)} feeds, "
              f"{changed['signatures']} signatures loaded; binary {binary}")
        print(f"first install: {first:.3f} s wall, verify {first_report['phases'].get('verify', 0):.3f} s")
        print(f"no-change cycle ({args.runs} runs, {nfiles} files each answered 304): "
              f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s; "
              f"peak RSS median {statistics.median(rss) / 1024:.1f} MiB")
        print(f"changed cycle: {changed_wall:.3f} s wall")
        for phase in ("fetch", "check", "verify", "install", "reload"):
            print(f"  {phase:8s} {phases.get(phase, 0):.3f} s")
        print(f"verify phase {phases.get('verify', 0):.3f} s vs bare libclamav load+compile "
              f"{bare_median:.3f} s (median of 5): ratio {phases.get('verify', 0) / bare_median:.2f}")
    finally:
        stop(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
