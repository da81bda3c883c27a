#!/usr/bin/env python3
"""Fleet benchmark: N gateways behind one publisher and nginx, against N gateways
that each fetch every upstream directly. Everything on loopback.

For N in --sizes (default 1, 10, 50) it runs three cycles (first sync, no change,
one upstream file changed) in two layouts:
  direct: N sigctl gateways, each with the upstream feeds (sha256 sidecars) on the
          loopback mirror (Tests/Support/mirror.py);
  fleet:  one publisher sigctl with those feeds and publish_dir, nginx serving the
          tree, and N gateways with one kind = "sigctl" feed.
and prints, per layout and cycle: requests and body bytes the upstream mirror saw,
requests and bytes nginx served, and the median wall time of one gateway's
`sigctl update` (the publisher's run is shown on its own line). Upstream requests
saved = direct upstream requests - fleet upstream requests.

Gateways run with clamd = "none" (each still verifies the set with libclamav in its
verification child), so N = 50 fits on a small host; the fleet test in
Tests/EndToEndTests/FleetTests.swift proves the same path with a real clamd per gateway.

The upstream set is the real third-party databases in ../shared/fixtures (10 files,
5 feeds) when present, otherwise 12 generated files of 3000 signatures.

Usage: benchmarks/fleet.py [--sigctl PATH] [--sizes 1,10,50]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from common import FIXTURES, ROOT, measured, release_binary, stop
from common import publish as publish_file
from update_cycle import generated


def upstream_set(mirror):
    """Publishes the upstream feeds into `mirror`; returns {feed: [files]} and a label."""
    third = os.path.join(FIXTURES, "thirdparty")
    feeds = {}
    if os.path.isdir(third):
        layout = {
            "sanesecurity": ["jurlbla.ndb", "lott.ndb", "spam.ldb", "phishtank.ndb", "winnow_phish_complete.ndb",
                             "winnow_spam_complete.ndb"],
            "securiteinfo": ["spam_marketing.ndb"],
            "urlhaus": ["urlhaus.ndb"],
            "rfxn": ["rfxn.ndb"],
        }
        for feed, files in layout.items():
            for name in files:
                publish_file(os.path.join(mirror, feed), name, open(os.path.join(third, feed, name), "rb").read())
            feeds[feed] = files
        publish_file(os.path.join(mirror, "bench"), "changing.ndb", generated(2000, "v1"))
        feeds["bench"] = ["changing.ndb"]
        return feeds, "real third-party databases (9 files) + 1 generated file of 2000 signatures"
    for f in range(4):
        feeds[f"gen{f}"] = []
        for i in range(3):
            name = f"bench{f}_{i}.ndb"
            publish_file(os.path.join(mirror, f"gen{f}"), name, generated(3000, f"{f}-{i}"))
            feeds[f"gen{f}"].append(name)
    feeds["bench"] = ["changing.ndb"]
    publish_file(os.path.join(mirror, "bench"), "changing.ndb", generated(2000, "v1"))
    return feeds, "generated signatures (12 files x 3000 + 1 x 2000)"


def announce(argv, prefix):
    """Starts a helper that announces "... 127.0.0.1:PORT" on stderr; returns (process, port)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = proc.stderr.readline().decode()
    if not line.startswith(prefix):
        sys.exit(f"{argv[1]} did not start: {line}")
    return proc, int(line.rsplit(":", 1)[1].strip().rstrip("/"))


def node(work, name, extra=""):
    """A sigctl installation (config, state, database dir); returns its config dir."""
    base = os.path.join(work, name)
    for d in ("etc/feeds.d", "db", "state"):
        os.makedirs(os.path.join(base, d))
    with open(os.path.join(base, "db", "local.ndb"), "w") as f:
        f.write("Local.Bench-1:0:*:" + b"local bench marker".hex() + "\n")
    with open(os.path.join(base, "etc", "sigctl.toml"), "w") as f:
        f.write(f'database_dir = "{base}/db"\nstate_dir = "{base}/state"\nclamd = "none"\nsleep = "0"\n{extra}')
    return os.path.join(base, "etc")


def upstream_feeds(conf, feeds, port):
    for feed, files in feeds.items():
        with open(os.path.join(conf, "feeds.d", feed + ".toml"), "w") as f:
            f.write(f'mirrors = ["http://127.0.0.1:{port}/{feed}/"]\ninterval = "0s"\nintegrity = "sha256"\n')
            for name in files:
                f.write(f'[[files]]\nname = "{name}"\n')


def run(binary, conf):
    code, out, wall, _ = measured([binary, "update", "--json"], dict(os.environ, SIGCTL_CONFIG=conf), capture=True)
    if code != 0:
        sys.exit(f"sigctl update ({conf}) exited {code}: {out[-2000:]}")
    return wall


def log_lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def nginx_lines(path):
    rows = []
    if os.path.exists(path):
        for line in open(path):
            parts = line.split('"')
            if len(parts) >= 3:
                fields = parts[2].split()
                rows.append((parts[1], int(fields[0]), int(fields[1])))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigctl")
    parser.add_argument("--sizes", default="1,10,50")
    args = parser.parse_args()
    binary = release_binary(args.sigctl)
    sizes = [int(n) for n in args.sizes.split(",")]
    print(f"sigctl {binary}")
    for n in sizes:
        for layout in ("direct", "fleet"):
            bench(binary, n, layout)


def bench(binary, n, layout):
    work = tempfile.mkdtemp(prefix="sigctl-fleet-bench-")
    os.chmod(work, 0o711)
    procs = []
    try:
        mirror = os.path.join(work, "upstream")
        feeds, label = upstream_set(mirror)
        mirror_log = os.path.join(work, "upstream.log")
        proc, port = announce([sys.executable, os.path.join(ROOT, "Tests/Support/mirror.py"), "--root", mirror,
                               "--port-file", os.path.join(work, "upstream.port"), "--log", mirror_log], "mirror:")
        procs.append(proc)
        publisher = None
        nginx_log = os.path.join(work, "nginx", "access.log")
        if layout == "fleet":
            key_home = os.path.join(work, "site-gnupg")
            os.makedirs(key_home, mode=0o700)
            subprocess.run(["gpg", "--homedir", key_home, "--batch", "--passphrase", "", "--quick-gen-key",
                            "bench site <bench@sigctl.invalid>", "ed25519", "sign", "never"], check=True, capture_output=True)
            listing = subprocess.run(["gpg", "--homedir", key_home, "--with-colons", "--list-keys"], check=True,
                                     capture_output=True, text=True).stdout
            fingerprint = next(l.split(":")[9] for l in listing.splitlines() if l.startswith("fpr:"))
            tree = os.path.join(work, "publish")
            os.makedirs(tree)
            with open(os.path.join(tree, "site-key.gpg"), "wb") as f:
                f.write(subprocess.run(["gpg", "--homedir", key_home, "--export", fingerprint], check=True, capture_output=True).stdout)
            publisher = node(work, "publisher", f'publish_dir = "{tree}"\npublish_key = "{fingerprint}"\npublish_gnupg_home = "{key_home}"\n')
            upstream_feeds(publisher, feeds, port)
            proc, web = announce([sys.executable, os.path.join(ROOT, "Tests/Support/nginx_serve.py"), "--root", tree,
                                  "--workdir", os.path.join(work, "nginx")], "nginx:")
            procs.append(proc)
        gateways = []
        for i in range(n):
            conf = node(work, f"gw{i}")
            if layout == "fleet":
                with open(os.path.join(conf, "feeds.d", "fleet.toml"), "w") as f:
                    f.write(f'kind = "sigctl"\nmirrors = ["http://127.0.0.1:{web}/"]\ninterval = "0s"\n'
                            f'gpg_key_url = "http://127.0.0.1:{web}/site-key.gpg"\ngpg_fingerprint = "{fingerprint}"\n')
            else:
                upstream_feeds(conf, feeds, port)
            gateways.append(conf)

        for cycle in ("first sync", "no change", "one file changed"):
            if cycle == "one file changed":
                publish_file(os.path.join(mirror, "bench"), "changing.ndb", generated(2100, "v2"))
            up_before, web_before = len(log_lines(mirror_log)), len(nginx_lines(nginx_log))
            pub_wall = run(binary, publisher) if publisher else None
            walls = [run(binary, conf) for conf in gateways]
            up = log_lines(mirror_log)[up_before:]
            web_rows = nginx_lines(nginx_log)[web_before:]
            line = (f"N={n:<3} {layout:<6} {cycle:<16} upstream {len(up):5d} requests {sum(r['bytes'] or 0 for r in up):10d} bytes"
                    f" | per gateway: median {statistics.median(walls) * 1000:7.1f} ms")
            if layout == "fleet":
                served = sum(r[2] for r in web_rows)
                line += (f", {len(web_rows) / n:4.1f} requests and {served / n:9.0f} bytes from nginx"
                         f" ({sum(1 for r in web_rows if r[1] == 304)} x 304) | publisher run {pub_wall * 1000:7.1f} ms")
            print(line, flush=True)
        print(f"        set: {label}", flush=True)
    finally:
        stop(procs)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
