#!/usr/bin/env python3
"""`sigctl test --raw` against `clamscan -r --allmatch` (needs ../shared/fixtures).

Both scan the phishing and ham corpora (about 1,000 messages) in one run each,
with the same database directory: the real third-party databases plus
ClamAV's clamav.hdb. Prints wall time, throughput ratio and peak RSS of each
(median of N runs), and whether both report the same (message, signature) pairs.

Usage: benchmarks/test_vs_clamscan.py [--sigctl PATH] [--runs N] [--jobs N]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from common import FIXTURES, release_binary
from common import measured as run_measured


def measured(argv):
    """(stdout, wall seconds, peak RSS MiB)."""
    _, out, wall, rss = run_measured(argv, capture=True)
    return out, wall, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigctl")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int)
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(FIXTURES, "mail")):
        sys.exit("../shared/fixtures is absent: nothing to benchmark")
    binary = release_binary(args.sigctl)
    work = tempfile.mkdtemp(prefix="sigctl-test-bench-")
    try:
        db = os.path.join(work, "db")
        os.makedirs(db)
        third = os.path.join(FIXTURES, "thirdparty")
        for provider in sorted(os.listdir(third)):
            src = os.path.join(third, provider)
            if os.path.isdir(src):
                for name in os.listdir(src):
                    if name != "urlhaus-2024-07-27.ndb" and name.rsplit(".", 1)[-1] in ("ndb", "ldb", "hdb", "ign2"):
                        shutil.copy(os.path.join(src, name), db)
        shutil.copy(os.path.join(FIXTURES, "mail", "clamav-testfiles", "clamav.hdb"), db)
        corpora = [os.path.join(FIXTURES, "mail", "phishing"), os.path.join(FIXTURES, "mail", "ham")]
        messages = sum(len(os.listdir(c)) for c in corpora)

        ours = [binary, "test", "--db", db, "--raw", "--json"] + (["--jobs", str(args.jobs)] if args.jobs else []) + corpora
        theirs = ["clamscan", "--no-summary", "-d", db, "-r", "--allmatch"] + corpora
        s_times, s_rss, c_times, c_rss = [], [], [], []
        s_pairs, c_pairs = set(), set()
        for _ in range(args.runs):
            out, wall, rss = measured(ours)
            s_times.append(wall)
            s_rss.append(rss)
            s_pairs = set()
            for line in out.splitlines():
                obj = json.loads(line)
                for match in obj.get("matches") or []:
                    s_pairs.add((obj["path"], match["signature"]))
            out, wall, rss = measured(theirs)
            c_times.append(wall)
            c_rss.append(rss)
            c_pairs = set()
            for line in out.splitlines():
                if line.endswith(" FOUND"):
                    path, sig = line[: -len(" FOUND")].rsplit(": ", 1)
                    c_pairs.add((path, sig))
        st, ct = statistics.median(s_times), statistics.median(c_times)
        print(f"{messages} messages (phishing + ham), {len(os.listdir(db))} database files; {os.cpu_count()} cores; median of {args.runs}")
        print(f"  sigctl test --raw     {st:.3f} s  peak RSS {statistics.median(s_rss):.1f} MiB")
        print(f"  clamscan --allmatch   {ct:.3f} s  peak RSS {statistics.median(c_rss):.1f} MiB")
        print(f"  throughput ratio (clamscan time / sigctl time): {ct / st:.2f}x")
        print(f"  pairs: sigctl {len(s_pairs)}, clamscan {len(c_pairs)}, identical: {s_pairs == c_pairs}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
