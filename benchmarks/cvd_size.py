#!/usr/bin/env python3
"""What a gateway fetches per official change: a whole CVD or a patched CLD.

A CVD is a 512-byte header and a gzip-compressed tar; the CLD that libfreshclam
builds from cdiffs is the same header and a plain tar (sigctl does not set
bCompressLocalDatabase). A publish tree lists files by sha256, so a changed
database reaches each gateway as one whole file, and these sizes are its cost.

Prints, for each CVD given or found, its size and the size of its tar unpacked:
  - the real signed CVDs in ../shared/fixtures/clamav-cvd (ClamAV's test database
    and the production bytecode.cvd);
  - daily of the production-size model (benchmarks/scale_set.py; generated into
    /var/tmp/sigctl-scale when absent), packed the way a CVD is.

Usage: benchmarks/cvd_size.py [CVD...]
"""
import os
import subprocess
import sys
import zlib

from common import FIXTURES, ROOT

MODEL = "/var/tmp/sigctl-scale"


def sizes(path):
    """(container bytes, plain tar bytes) of a CVD or CUD."""
    data = open(path, "rb").read()
    body = data[512:]
    plain = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body)
    return len(data), 512 + len(plain)


def main():
    paths = sys.argv[1:]
    if not paths:
        real = os.path.join(FIXTURES, "clamav-cvd")
        if os.path.isdir(real):
            paths += [os.path.join(real, n) for n in ("test-6.cvd", "bytecode.cvd")]
        if not os.path.exists(os.path.join(MODEL, "packed", "daily.cud")):
            subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "scale_set.py"), MODEL], check=True)
        paths.append(os.path.join(MODEL, "packed", "daily.cud"))
    print(f"{'file':<44} {'as CVD':>14} {'as CLD':>14} {'CVD/CLD':>8}")
    for path in paths:
        packed, plain = sizes(path)
        print(f"{path[-44:]:<44} {packed:14,d} {plain:14,d} {packed / plain * 100:7.1f}%")


if __name__ == "__main__":
    main()
