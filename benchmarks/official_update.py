#!/usr/bin/env python3
"""Official-database benchmarks (needs ../shared/fixtures/clamav-cvd).

Prints:
  1. wall time and peak RSS of `sigctl update` taking ClamAV's signed `test`
     database from version 3 to 6 through a loopback private mirror (clamd = "none",
     so the figure is fetch + verify + install), next to `freshclam --update-db=test`
     against the same mirror with TestDatabases yes (freshclam's own load test);
     median of N runs each, every run from a fresh version-3 directory;
  2. the cost of verifying official databases (test v6 + the production bytecode.cvd),
     third-party databases (../shared/fixtures/thirdparty) and both together, with
     `sigctl verify` (child load + compile): wall time and peak RSS.

Usage: benchmarks/official_update.py [--sigctl PATH] [--runs N]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import FIXTURES, ROOT, release_binary
from common import measured as run_measured

CVD = os.path.join(FIXTURES, "clamav-cvd")


def measured(argv, env=None):
    """(exit code, wall seconds, peak RSS MiB)."""
    code, _, wall, rss = run_measured(argv, env)
    return code, wall, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigctl")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not os.path.isdir(CVD):
        sys.exit("../shared/fixtures/clamav-cvd is absent: nothing to benchmark")
    binary = release_binary(args.sigctl)
    work = tempfile.mkdtemp(prefix="sigctl-official-bench-")
    mirror_proc = None
    try:
        mirror = os.path.join(work, "mirror", "clamav")
        os.makedirs(mirror)
        shutil.copy(os.path.join(CVD, "test-6.cvd"), os.path.join(mirror, "test.cvd"))
        for v in (4, 5, 6):
            shutil.copy(os.path.join(CVD, f"test-{v}.cdiff"), mirror)
        port_file = os.path.join(work, "port")
        mirror_proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/Support/mirror.py"), "--root",
                                        os.path.join(work, "mirror"), "--port-file", port_file],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{int(open(port_file).read())}/clamav"

        def fresh(name):
            base = os.path.join(work, name)
            shutil.rmtree(base, ignore_errors=True)
            for d in ("db", "state", "etc/feeds.d", "tmp"):
                os.makedirs(os.path.join(base, d))
            shutil.copy(os.path.join(CVD, "test-3.cvd"), os.path.join(base, "db", "test.cvd"))
            return base

        sig_times, sig_rss, fc_times, fc_rss = [], [], [], []
        for _ in range(args.runs):
            base = fresh("sigctl")
            with open(os.path.join(base, "etc", "sigctl.toml"), "w") as f:
                f.write(f'database_dir = "{base}/db"\nstate_dir = "{base}/state"\nclamd_conf = "{base}/none.conf"\n'
                        f'clamd = "none"\nsleep = "0"\n')
            with open(os.path.join(base, "etc", "feeds.d", "clamav.toml"), "w") as f:
                f.write(f'kind = "official"\ndatabases = ["test"]\nmirrors = ["{url}"]\nprivate_mirror = true\n'
                        f'dns = "none"\ninterval = "0s"\n')
            code, wall, rss = measured([binary, "update", "--config", os.path.join(base, "etc")])
            if code != 0:
                sys.exit(f"sigctl update failed with exit {code}")
            sig_times.append(wall)
            sig_rss.append(rss)

            base = fresh("freshclam")
            conf = os.path.join(base, "freshclam.conf")
            with open(conf, "w") as f:
                f.write(f"DatabaseDirectory {base}/db\nPrivateMirror {url}\nDNSDatabaseInfo no\nScriptedUpdates yes\n"
                        f"TestDatabases yes\nForeground yes\nDatabaseOwner {os.getenv('USER') or 'root'}\n")
            code, wall, rss = measured(["freshclam", f"--config-file={conf}", "--update-db=test", f"--datadir={base}/db"])
            if code != 0:
                sys.exit(f"freshclam failed with exit {code}")
            fc_times.append(wall)
            fc_rss.append(rss)

        print(f"official update test 3 -> 6 through a loopback private mirror ({args.runs} runs each, median):")
        print(f"  sigctl update      {statistics.median(sig_times):.3f} s  peak RSS {statistics.median(sig_rss):.1f} MiB"
              f"  (libfreshclam child + verification child + install; clamd = none)")
        print(f"  freshclam          {statistics.median(fc_times):.3f} s  peak RSS {statistics.median(fc_rss):.1f} MiB"
              f"  (TestDatabases yes)")

        official = os.path.join(work, "verify-official")
        third = os.path.join(work, "verify-third")
        both = os.path.join(work, "verify-both")
        for d in (official, third, both):
            os.makedirs(d)
        for d in (official, both):
            shutil.copy(os.path.join(CVD, "test-6.cvd"), os.path.join(d, "test.cvd"))
            shutil.copy(os.path.join(CVD, "bytecode.cvd"), d)
        tp = os.path.join(FIXTURES, "thirdparty")
        for provider in sorted(os.listdir(tp)):
            src = os.path.join(tp, provider)
            if not os.path.isdir(src):
                continue
            for name in sorted(os.listdir(src)):
                if name == "urlhaus-2024-07-27.ndb":
                    continue
                for d in (third, both):
                    shutil.copy(os.path.join(src, name), d)
        print("verification cost (sigctl verify: child load + compile; median of 5):")
        for label, d in (("official only", official), ("third-party only", third), ("both together", both)):
            walls, rsss = [], []
            for _ in range(5):
                code, wall, rss = measured([binary, "verify", d])
                if code != 0:
                    sys.exit(f"verify {label} failed with exit {code}")
                walls.append(wall)
                rsss.append(rss)
            print(f"  {label:17s} {statistics.median(walls):.3f} s  peak RSS {statistics.median(rsss):.1f} MiB")
    finally:
        if mirror_proc:
            mirror_proc.terminate()
            mirror_proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
