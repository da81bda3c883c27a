#!/usr/bin/env python3
"""Generates a production-size model of ClamAV's official signature set.

The model has the signature counts and the mix of signature types of the real
main.cvd (version 62) and daily.cvd, plus the real bytecode.cvd from
../shared/fixtures when it is there. The signatures are random (they match
nothing real), but each type is written in its real shape, so libclamav builds
the same structures it builds for the real set: hash tables for the hash
signatures, Aho-Corasick and Boyer-Moore tries for body signatures with and
without wildcards, logical signatures with PCRE subsignatures, and the small
files (fp, sfp, ign2, cdb, crb, pdb, wdb). It has no .ftm: the real daily.ftm is
libclamav's whole file-type table, and any .ftm in a set replaces the built-in one,
so a synthetic one would stop mail parsing (sigctl's canary says so).

Sources for the counts are in benchmarks/README.md.

It writes, under OUT:
  plain/       main.* and daily.* as plain files, and bytecode.cvd
  packed/      main.cud, daily.cud (unsigned containers with a .info) and bytecode.cvd
  next/plain/  the daily.* files of the next daily version (a typical daily change)
  next/packed/ daily.cud of the next version
  model.json   what was written

Usage: benchmarks/scale_set.py OUT [--scale 1.0] [--seed 62]
The full model takes a few minutes and about 1.3 GB of disk.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import sys
import tarfile
import time

from common import FIXTURES

# Signatures per file of main.cvd version 62 (6,647,427 in its header) and of a
# daily.cvd of 2024-2025 (2,065,716-2,076,928). Published, counted or estimated from
# the published file sizes: see benchmarks/README.md for each figure's source.
MAIN = {
    "mdb": 4_058_809, "hsb": 2_376_478, "ndb": 101_634, "hdb": 80_000, "ldb": 30_000,
    "fp": 505, "msb": 1, "sfp": 1,
}
DAILY = {
    "hsb": 1_750_000, "ldb": 200_000, "mdb": 77_000, "ldu": 15_000, "ndu": 3_000,
    "mdu": 1_180, "ndb": 800, "fp": 480, "ign2": 260, "pdb": 263, "wdb": 190,
    "hdu": 54, "crb": 30, "cdb": 5, "msb": 3, "hsu": 2, "hdb": 1,
    "msu": 1, "sfp": 1,
}
# Not published: the share of logical signatures with a PCRE subsignature, and of
# body signatures with wildcards. These are assumptions of the model.
LDB_PCRE = 0.08
NDB_WILDCARD = 0.35
# The PUA variants of each type have the same line format.
PUA = {"hdu": "hdb", "hsu": "hsb", "mdu": "mdb", "msu": "msb", "ndu": "ndb", "ldu": "ldb"}

PLATFORMS = ["Win", "Doc", "Html", "Js", "Email", "Unix", "Osx", "Andr", "Pdf", "Xls", "Txt", "Multios"]
CATEGORIES = ["Trojan", "Malware", "Downloader", "Exploit", "Phishing", "Dropper", "Virus", "Worm", "Adware", "Packed"]
FAMILIES = ["Agent", "Emotet", "Generic", "Zbot", "Lokibot", "Qakbot", "Formbook", "AgentTesla", "Nanocore", "Remcos"]


class Names:
    """Signature names in ClamAV's style: Platform.Category.Family-serial-revision."""

    def __init__(self, rng, start):
        self.rng = rng
        self.serial = start

    def next(self):
        self.serial += 1
        r = self.rng
        return f"{r.choice(PLATFORMS)}.{r.choice(CATEGORIES)}.{r.choice(FAMILIES)}-{self.serial}-{r.randint(0, 3)}"


def hexbytes(rng, n):
    return "%0*x" % (n * 2, rng.getrandbits(n * 8))


# Real body patterns share their first bytes (opcodes, headers, script text), and
# libclamav's Aho-Corasick trie is as big as the number of distinct prefixes: most
# patterns here start with one of a few thousand 3-byte prefixes.
PREFIXES = None


def start(rng, n):
    global PREFIXES
    if PREFIXES is None:
        seed = random.Random(7)
        PREFIXES = ["%06x" % seed.getrandbits(24) for _ in range(2000)]
    if rng.random() < 0.9:
        return rng.choice(PREFIXES) + hexbytes(rng, n - 3)
    return hexbytes(rng, n)


def body(rng, wildcard):
    """A body pattern: static hex, or hex with ClamAV's wildcards (??, *, {n-m}, (aa|bb))."""
    if not wildcard:
        return start(rng, rng.randint(12, 48))
    parts = [start(rng, rng.randint(4, 16))]
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.35:
            parts.append("??")
        elif kind < 0.6:
            parts.append("{%d-%d}" % (rng.randint(0, 4), rng.randint(5, 40)))
        elif kind < 0.8:
            parts.append("*")
        else:
            parts.append("(%s|%s)" % (hexbytes(rng, 2), hexbytes(rng, 2)))
        parts.append(hexbytes(rng, rng.randint(3, 12)))
    return "".join(parts)


def line(kind, rng, names):
    kind = PUA.get(kind, kind)
    name = names.next()
    if kind in ("hdb", "fp"):
        return f"{hexbytes(rng, 16)}:{rng.randint(64, 4_000_000)}:{name}"
    if kind in ("hsb", "sfp"):
        return f"{hexbytes(rng, 32)}:{rng.randint(64, 4_000_000)}:{name}:73"
    if kind == "mdb":
        return f"{rng.randint(512, 200_000)}:{hexbytes(rng, 16)}:{name}"
    if kind == "msb":
        return f"{rng.randint(512, 200_000)}:{hexbytes(rng, 32)}:{name}:73"
    if kind == "ndb":
        target = rng.choice([0, 0, 0, 1, 1, 3, 4, 6, 7])
        offset = rng.choice(["*", "*", "*", "0", "EP+0", "EOF-512"]) if target == 1 else rng.choice(["*", "*", "0"])
        return f"{name}:{target}:{offset}:{body(rng, rng.random() < NDB_WILDCARD)}"
    if kind == "ldb":
        # Real logical signatures average 300-400 bytes a line: several long subsignatures.
        subs = [body(rng, rng.random() < 0.3) + hexbytes(rng, rng.randint(6, 24)) for _ in range(rng.randint(2, 5))]
        logic = "&".join(str(i) for i in range(len(subs)))
        if rng.random() < LDB_PCRE:
            # A PCRE subsignature triggered by the first hex subsignature.
            subs.append("0/%s[a-z0-9]{4,16}%s/i" % (hexbytes(rng, 3), hexbytes(rng, 2)))
            logic = f"({logic})&{len(subs) - 1}"
            engine = "Engine:81-255"
        else:
            engine = "Engine:51-255"
        return f"{name};{engine},Target:{rng.choice([0, 1, 3, 4, 7])};{logic};" + ";".join(subs)
    if kind == "cdb":
        return f"{name}:CL_TYPE_ZIP:*:{hexbytes(rng, 4)}[a-z]{{3}}\\.exe:*:*:*:*:*:*"
    if kind == "ign2":
        return names.next()
    if kind == "pdb":
        return f"H:{hexbytes(rng, 5)}.example"
    if kind == "wdb":
        return f"X:.+\\.{hexbytes(rng, 4)}\\.example([/?].*)?:.+\\.{hexbytes(rng, 4)}\\.example([/?].*)?:17-"
    if kind == "crb":
        # Trust and block rules for Authenticode certificates.
        trusted = rng.randint(0, 1)
        return (f"{name};{trusted};{hexbytes(rng, 20)};{hexbytes(rng, 20)};{hexbytes(rng, 256)};010001;"
                f"1;0;1;0;Sigctl scale model")
    raise ValueError(kind)


def write_files(directory, prefix, counts, rng, names):
    """Writes one file per type; returns {file name: signatures}."""
    written = {}
    for kind, count in counts.items():
        name = f"{prefix}.{kind}"
        with open(os.path.join(directory, name), "w") as f:
            buf = []
            for _ in range(count):
                buf.append(line(kind, rng, names))
                if len(buf) >= 50_000:
                    f.write("\n".join(buf) + "\n")
                    buf = []
            if buf:
                f.write("\n".join(buf) + "\n")
        written[name] = count
    return written


def header(version, sigs, md5, stime, builder="sigctl-scale"):
    when = time.strftime("%d %b %Y %H-%M +0000", time.gmtime(stime))
    text = f"ClamAV-VDB:{when}:{version}:{sigs}:90:{md5}:unsigned:{builder}:{stime}"
    return text.encode().ljust(512, b" ")


def pack(plain_dir, prefix, files, version, stime, out_path):
    """An unsigned container (.cud): the CVD header and a gzip'd tar with a .info."""
    sigs = sum(files.values())
    info = [header(version, sigs, "0" * 32, stime).decode().rstrip()]
    for name in sorted(files):
        path = os.path.join(plain_dir, name)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        info.append(f"{name}:{os.path.getsize(path)}:{digest}")
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=stime) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            data = ("\n".join(info) + "\n").encode()
            entry = tarfile.TarInfo(f"{prefix}.info")
            entry.size, entry.mtime = len(data), stime
            tar.addfile(entry, io.BytesIO(data))
            for name in sorted(files):
                tar.add(os.path.join(plain_dir, name), arcname=name)
    body = raw.getvalue()
    with open(out_path, "wb") as f:
        f.write(header(version, sigs, hashlib.md5(body).hexdigest(), stime))
        f.write(body)


def daily_change(src_dir, dst_dir, daily_files, rng, names, added, removed):
    """The next daily version: `added` new signatures spread over hash, body and logical
    files, `removed` withdrawn ones (false positives), everything else unchanged."""
    mix = {"hsb": 0.6, "ldb": 0.25, "mdb": 0.1, "ndb": 0.05}
    counts = dict(daily_files)
    for name in daily_files:
        kind = name.split(".", 1)[1]
        with open(os.path.join(src_dir, name)) as f:
            lines = f.read().splitlines()
        if kind in mix:
            drop = int(removed * mix[kind])
            for _ in range(drop):
                lines.pop(rng.randrange(len(lines)))
            lines += [line(kind, rng, names) for _ in range(int(added * mix[kind]))]
        with open(os.path.join(dst_dir, name), "w") as f:
            f.write("\n".join(lines) + "\n")
        counts[name] = len(lines)
    return counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real counts (1.0: production size)")
    parser.add_argument("--seed", type=int, default=62)
    parser.add_argument("--added", type=int, default=3000, help="signatures the daily change adds")
    parser.add_argument("--removed", type=int, default=200, help="signatures the daily change withdraws")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    start = time.monotonic()
    plain, packed = os.path.join(args.out, "plain"), os.path.join(args.out, "packed")
    next_plain, next_packed = os.path.join(args.out, "next", "plain"), os.path.join(args.out, "next", "packed")
    for d in (plain, packed, next_plain, next_packed):
        os.makedirs(d, exist_ok=True)
    scaled = lambda counts: {k: max(1, int(v * args.scale)) for k, v in counts.items()}
    main_files = write_files(plain, "main", scaled(MAIN), rng, Names(rng, 1_000_000))
    daily_files = write_files(plain, "daily", scaled(DAILY), rng, Names(rng, 9_000_000))
    next_files = daily_change(plain, next_plain, daily_files, rng, Names(rng, 20_000_000),
                              int(args.added * min(1.0, args.scale * 10)), int(args.removed * min(1.0, args.scale * 10)))
    stime = int(time.time()) - 3600
    pack(plain, "main", main_files, 62, stime - 86400 * 30, os.path.join(packed, "main.cud"))
    pack(plain, "daily", daily_files, 27800, stime, os.path.join(packed, "daily.cud"))
    pack(next_plain, "daily", next_files, 27801, stime + 1800, os.path.join(next_packed, "daily.cud"))
    bytecode = os.path.join(FIXTURES, "clamav-cvd", "bytecode.cvd")
    if os.path.exists(bytecode):
        for d in (plain, packed):
            shutil.copy(bytecode, os.path.join(d, "bytecode.cvd"))
    model = {
        "scale": args.scale, "seed": args.seed,
        "main": main_files, "daily": daily_files, "next_daily": next_files,
        "signatures": sum(main_files.values()) + sum(daily_files.values()),
        "bytecode": os.path.exists(bytecode),
        "seconds": round(time.monotonic() - start, 1),
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(model, f, indent=1)
    print(f"wrote {model['signatures']:,} signatures (+ bytecode: {model['bytecode']}) to {args.out} "
          f"in {model['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
