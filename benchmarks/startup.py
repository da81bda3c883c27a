#!/usr/bin/env python3
"""Startup time of `sigctl status`: the packaged binary (Swift runtime linked in
statically) against a checkout build (runtime loaded from the toolchain).

    python3 benchmarks/startup.py --static /usr/bin/sigctl --dynamic .build/release/sigctl

Each binary runs `status` 30 times on an empty sandbox (no clamd); prints the
median and the fastest run, and the shared libraries each one loads.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--static", default="/usr/bin/sigctl")
    parser.add_argument("--dynamic", default=".build/release/sigctl")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sigctl-startup-") as work:
        conf = os.path.join(work, "conf")
        os.makedirs(os.path.join(conf, "feeds.d"))
        for d in ("db", "state"):
            os.makedirs(os.path.join(work, d))
        with open(os.path.join(conf, "sigctl.toml"), "w") as f:
            f.write(f'database_dir = "{work}/db"\nstate_dir = "{work}/state"\nclamd = "none"\n'
                    f'clamd_conf = "{work}/none.conf"\n')
        env = dict(os.environ, SIGCTL_CONFIG=conf)
        for label, binary in (("static runtime", args.static), ("dynamic runtime", args.dynamic)):
            if not os.access(binary, os.X_OK):
                print(f"{label}: {binary} not found, skipped")
                continue
            subprocess.run([binary, "status"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                subprocess.run([binary, "status"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times.append(time.perf_counter() - start)
            libs = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
            swift = [l.split()[0] for l in libs.splitlines() if "swift" in l or "Foundation" in l or "dispatch" in l]
            print(f"{label:16s} {binary}: median {statistics.median(times) * 1000:.1f} ms, fastest {min(times) * 1000:.1f} ms, "
                  f"{os.path.getsize(binary) // (1 << 20)} MiB; Swift libraries loaded: {', '.join(swift) or 'none'}")


if __name__ == "__main__":
    main()
