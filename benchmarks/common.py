"""Helpers shared by the benchmark scripts."""
import hashlib
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures")


def release_binary(given=None):
    """The sigctl binary to measure: `given`, or a release build made now."""
    if given:
        return given
    subprocess.run(["swift", "build", "-c", "release", "--product", "sigctl"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    return os.path.join(path, "sigctl")


def measured(argv, env=None, capture=False):
    """Runs argv; returns (exit code, stdout text or "", wall seconds, peak RSS MiB of it and its waited-for children)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = proc.stdout.read().decode() if capture else ""
    _, status, usage = os.wait4(proc.pid, 0)
    return os.waitstatus_to_exitcode(status), out, time.monotonic() - start, usage.ru_maxrss / 1024


def publish(directory, name, data):
    """Writes a feed file and its sha256 sidecar into a mirror directory."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    with open(path + ".sha256", "w") as f:
        f.write(hashlib.sha256(data).hexdigest() + "  " + name + "\n")


def stop(procs, grace=10):
    """Terminates the daemons a benchmark started (mirror, clamd), killing the slow ones."""
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
