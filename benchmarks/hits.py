#!/usr/bin/env python3
"""`sigctl hits` on a generated mail log of about 1 GB (Postfix with clamav-milter and
amavisd-new, clamd; realistically interleaved daemons), against `grep -c FOUND` on the
same file: wall time, lines per second and peak RSS. Then the same log split in two
files (two rotations), to show one file per core.

    python3 benchmarks/hits.py [--sigctl PATH] [--size-mb 1024] [--keep]
"""
import argparse
import os
import random
import shutil
import tempfile
import time

from common import measured, release_binary

HOSTS = ["mail.example.net", "smtp.example.com", "unknown", "mx.partner.example", "gw.example.org"]


def generate(path, size):
    """Writes mail traffic until the file reaches `size` bytes; returns (lines, detections)."""
    rng = random.Random(7)
    lines = detections = 0
    t = 1_763_900_000  # 2025-11-23, UTC; classic stamps, so the year is inferred from the mtime
    queue = 0x100000
    pending = []  # (due time, text): lines of messages in flight, so daemons interleave
    with open(path, "w") as f:
        written = 0
        while written < size:
            t += rng.choice((0, 0, 0, 1))
            queue += 1
            q = f"{queue:010X}"
            client = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            host = rng.choice(HOSTS)
            sender = f"user{rng.randint(1, 50000)}@d{rng.randint(1, 5000)}.example"
            pid = rng.randint(1000, 60000)
            infected = rng.random() < 0.01
            msg = [
                (t, f"postfix/smtpd[{pid}]: connect from {host}[{client}]"),
                (t, f"postfix/smtpd[{pid}]: {q}: client={host}[{client}]"),
                (t, f"postfix/cleanup[{pid + 1}]: {q}: message-id=<{q}.{rng.randint(1, 10**9)}@{host}>"),
            ]
            if infected and rng.random() < 0.5:
                sig = f"Sanesecurity.Test.{rng.randint(1, 200)}.UNOFFICIAL"
                msg += [(t + 1, f"clamd[800]: instream(127.0.0.1@{rng.randint(30000, 60000)}): {sig} FOUND"),
                        (t + 1, f"postfix/cleanup[{pid + 1}]: {q}: milter-reject: END-OF-MESSAGE from {host}[{client}]: 5.7.1 Command rejected; from=<{sender}> to=<rcpt@example.org> proto=ESMTP helo=<{host}>"),
                        (t + 1, f"postfix/smtpd[{pid}]: disconnect from {host}[{client}] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5")]
                detections += 1
            else:
                msg += [(t + 1, f"postfix/qmgr[700]: {q}: from=<{sender}>, size={rng.randint(1000, 90000)}, nrcpt=1 (queue active)"),
                        (t + 1, f"postfix/smtpd[{pid}]: disconnect from {host}[{client}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")]
                verdict = f"Blocked INFECTED (Win.Test.{rng.randint(1, 50)}) {{DiscardedInbound,Quarantined}}" if infected else "Passed CLEAN {RelayedInbound}"
                detections += infected
                msg += [(t + 2, f"amavis[{rng.randint(2000, 2100)}]: ({rng.randint(10000, 99999)}-01) {verdict}, [{client}]:{rng.randint(1024, 65535)} [{client}] <{sender}> -> <rcpt@example.org>, Queue-ID: {q}, Message-ID: <{q}@{host}>, mail_id: abc, Hits: -1.2, size: 4321, queued_as: {queue + 7:010X}, 312 ms"),
                        (t + 2, f"postfix/smtp[{pid + 2}]: {q}: to=<rcpt@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0/1.9, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {queue + 7:010X})"),
                        (t + 2, f"postfix/qmgr[700]: {q}: removed")]
            pending += msg
            if len(pending) > 400:
                rng.shuffle(pending[:40])  # neighbouring daemons' lines cross a little
                pending.sort(key=lambda item: item[0])
                out = pending[:200]
                pending = pending[200:]
                text = "".join(f"{stamp(s)} mx {line}\n" for s, line in out)
                f.write(text)
                written += len(text)
                lines += len(out)
        text = "".join(f"{stamp(s)} mx {line}\n" for s, line in sorted(pending))
        f.write(text)
        lines += len(pending)
    os.utime(path, (t + 10, t + 10))
    return lines, detections


def stamp(t):
    """A classic syslog stamp, the day padded with a space: "Nov  3 10:00:00"."""
    g = time.gmtime(t)
    return f"{time.strftime('%b', g)} {g.tm_mday:2d} {time.strftime('%H:%M:%S', g)}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigctl")
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    sigctl = release_binary(args.sigctl)
    work = tempfile.mkdtemp(prefix="sigctl-bench-hits-", dir="/var/tmp")
    try:
        config = os.path.join(work, "config")
        os.makedirs(os.path.join(config, "feeds.d"))
        os.makedirs(os.path.join(work, "db"))
        with open(os.path.join(config, "sigctl.toml"), "w") as f:
            f.write(f'database_dir = "{work}/db"\nstate_dir = "{work}/state"\nclamd = "none"\n')
        log = os.path.join(work, "mail.log")
        lines, detections = generate(log, args.size_mb << 20)
        size = os.path.getsize(log)
        print(f"log: {size / 2**20:.0f} MiB, {lines:,} lines, {detections:,} infected messages")
        env = dict(os.environ, SIGCTL_CONFIG=config, TZ="UTC")
        # Once to warm the page cache for both.
        measured(["grep", "-c", "FOUND", log])
        code, out, grep_s, grep_rss = measured(["grep", "-c", "FOUND", log], env=env, capture=True)
        print(f"grep -c FOUND:            {grep_s:6.2f} s  {lines / grep_s / 1e6:6.2f} M lines/s  peak {grep_rss:6.1f} MiB  ({out.strip()} lines)")
        code, out, hits_s, hits_rss = measured([sigctl, "hits", "--since", "all", "--json", log], env=env, capture=True)
        found = len(out.splitlines()) - 1 if code == 0 else -1
        print(f"sigctl hits (1 file):     {hits_s:6.2f} s  {lines / hits_s / 1e6:6.2f} M lines/s  peak {hits_rss:6.1f} MiB  ({found:,} detections, exit {code})")
        # The same lines as two rotations: one file per core. Copied in pieces, so this
        # script stays small (a forked child's peak RSS counts the parent's pages).
        half = os.path.join(work, "mail.log.1")
        rest = os.path.join(work, "mail.log.rest")
        with open(log, "rb") as src, open(half, "wb") as a, open(rest, "wb") as b:
            copied = 0
            while copied < size // 2:
                chunk = src.read(min(1 << 20, size // 2 - copied))
                a.write(chunk)
                copied += len(chunk)
            a.write(src.readline())
            shutil.copyfileobj(src, b, 1 << 20)
        os.replace(rest, log)
        code, out, split_s, split_rss = measured([sigctl, "hits", "--since", "all", "--json", half, log], env=env, capture=True)
        found = len(out.splitlines()) - 1 if code == 0 else -1
        print(f"sigctl hits (2 files):    {split_s:6.2f} s  {lines / split_s / 1e6:6.2f} M lines/s  peak {split_rss:6.1f} MiB  ({found:,} detections)")
        print(f"hits / grep: {hits_s / grep_s:.1f}x the time (one file), {split_s / grep_s:.1f}x (two files on {os.cpu_count()} cores)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
