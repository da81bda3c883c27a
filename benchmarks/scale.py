#!/usr/bin/env python3
"""sigctl at the production size of the official set: one daily change, measured.

It builds (once, cached) the production-size model of main + daily + bytecode
(benchmarks/scale_set.py, 8.7M signatures), starts a real clamd on it, serves
daily from a loopback mirror as a feed, and measures, in the same run:

  - a bare libclamav load+compile of the changed set (benchmarks/bare_load.c): the limit;
  - clamd's own RELOAD of the set: its duration and its peak RSS;
  - `sigctl update` for one daily change: wall time per phase, the verification
    child's time and peak, the peak RSS of sigctl's whole process tree, and the
    host's peak (clamd + sigctl's tree, sampled together every 20 ms);
  - `sigctl test` of one message against clamscan, and `sigctl explain` of a daily signature.

The bare load and the daily change are repeated (--repeat, default 3; the change
alternates between the two daily versions) and the ratios are of the medians, since
run-to-run noise on a small VM is about 20%. A last change runs with ham_corpus set.
It prints each figure and its ratio to the limit it answers to (issue 8's targets).
Usage: benchmarks/scale.py [--sigctl PATH] [--set DIR] [--packed] [--scale F] [--repeat N] [--ham DIR]
  --packed  main and daily as .cud containers instead of plain files
  --scale   a smaller model for a quick run (default 1.0: production size)
Takes about 10 minutes at production size on two cores, and about 8 GB of memory.
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
import threading
import time

from common import FIXTURES, ROOT, measured, publish, release_binary, stop

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE / (1 << 20)
    except (OSError, IndexError, ValueError):
        return 0.0


def tree(pid):
    """pid and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


class Sampler:
    """Samples the RSS of a process tree and of clamd every 20 ms, and their sum."""

    def __init__(self, clamd_pid):
        self.clamd_pid = clamd_pid
        self.root = None
        self.peak_tree = self.peak_clamd = self.peak_host = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            mine = sum(rss_mib(p) for p in tree(self.root)) if self.root else 0.0
            clamd = rss_mib(self.clamd_pid)
            self.peak_tree = max(self.peak_tree, mine)
            self.peak_clamd = max(self.peak_clamd, clamd)
            self.peak_host = max(self.peak_host, mine + clamd)
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run_sampled(argv, env, clamd_pid):
    with Sampler(clamd_pid) as sampler:
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sampler.root = proc.pid
        out, err = proc.communicate()
        wall = time.monotonic() - start
    return proc.returncode, out.decode(), err.decode(), wall, sampler


def clamd_command(sock, command, timeout=600):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall(b"z" + command + b"\0")
    reply = s.recv(4096)
    s.close()
    return reply.rstrip(b"\0").decode()


def wait_for_clamd(sock, proc, limit=900):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("clamd exited while loading the set")
        try:
            if clamd_command(sock, b"PING", 5).startswith("PONG"):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("clamd did not come up")


def clamd_reload(sock, pid, log):
    """clamd's own RELOAD: seconds until its log says the new engine is active, and its peak RSS."""
    before = os.path.getsize(log)
    with Sampler(pid) as sampler:
        start = time.monotonic()
        clamd_command(sock, b"RELOAD")
        while True:
            with open(log) as f:
                f.seek(before)
                text = f.read()
            if "Database correctly reloaded" in text or "reload failed" in text:
                break
            time.sleep(0.05)
        seconds = time.monotonic() - start
    return seconds, sampler.peak_clamd


def publish_file(mirror, name, path):
    publish(mirror, name, open(path, "rb").read())


def model(args):
    directory = args.set or f"/var/tmp/sigctl-scale{'' if args.scale == 1.0 else '-' + str(args.scale)}"
    if not os.path.exists(os.path.join(directory, "model.json")):
        print(f"generating the model in {directory} (once)...", file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "scale_set.py"), directory,
                        "--scale", str(args.scale)], check=True)
    return directory, json.load(open(os.path.join(directory, "model.json")))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sigctl")
    parser.add_argument("--set")
    parser.add_argument("--packed", action="store_true")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the sandbox")
    parser.add_argument("--repeat", type=int, default=3, help="bare loads and daily changes to take the median of")
    parser.add_argument("--ham", default=os.path.join(ROOT, "..", "shared", "fixtures", "mail", "ham"),
                        help="ham corpus for the gated change (default: the fixtures' 510 ham messages)")
    args = parser.parse_args()

    binary = release_binary(args.sigctl)
    set_dir, info = model(args)
    kind = "packed" if args.packed else "plain"
    src = os.path.join(set_dir, kind)
    next_src = os.path.join(set_dir, "next", kind)
    main_files = ["main.cud"] if args.packed else sorted(info["main"])
    daily_files = ["daily.cud"] if args.packed else sorted(info["daily"])
    extra = ["bytecode.cvd"] if info["bytecode"] else []

    work = tempfile.mkdtemp(prefix="sigctl-scale-", dir="/var/tmp")
    procs = []
    try:
        mirror, db, state, conf, after = (os.path.join(work, d) for d in ("mirror", "db", "state", "etc", "after"))
        for d in (mirror, db, state, os.path.join(conf, "feeds.d"), os.path.join(work, "tmp"), after):
            os.makedirs(d)
        os.chmod(work, 0o755)
        for name in main_files + extra:
            shutil.copy(os.path.join(src, name), os.path.join(db, name))
            os.symlink(os.path.join(src, name), os.path.join(after, name))
        for name in daily_files:
            publish_file(mirror, name, os.path.join(src, name))
            os.symlink(os.path.join(next_src, name), os.path.join(after, name))

        # The limit: a bare load + compile of exactly the set after the change.
        bare_bin = os.path.join(work, "bare_load")
        subprocess.run(["gcc", "-O2", "-o", bare_bin, os.path.join(ROOT, "benchmarks", "bare_load.c"), "-lclamav"], check=True)
        bare_times, bare_peaks = [], []
        for _ in range(args.repeat):
            code, out, bare_wall, rss = measured([bare_bin, after], capture=True)
            if code != 0:
                sys.exit(f"bare load failed: {code}")
            bare_times.append(float(out.split()[0]))
            bare_peaks.append(rss)
            loaded = int(out.split()[1])
        bare_seconds, bare_rss = statistics.median(bare_times), statistics.median(bare_peaks)

        port_file = os.path.join(work, "port")
        procs.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "Tests/Support/mirror.py"), "--root", mirror,
                                       "--port-file", port_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while not os.path.exists(port_file):
            time.sleep(0.05)
        port = int(open(port_file).read())

        sock, log = os.path.join(work, "clamd.sock"), os.path.join(work, "clamd.log")
        with open(os.path.join(work, "clamd.conf"), "w") as f:
            f.write(f"LocalSocket {sock}\nDatabaseDirectory {db}\nTemporaryDirectory {work}/tmp\nForeground yes\n"
                    f"ConcurrentDatabaseReload yes\nLogFile {log}\nSelfCheck 0\n")
        start = time.monotonic()
        clamd = subprocess.Popen(["clamd", f"--config-file={work}/clamd.conf"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(clamd)
        wait_for_clamd(sock, clamd)
        clamd_start = time.monotonic() - start
        clamd_steady_before = rss_mib(clamd.pid)

        with open(os.path.join(conf, "sigctl.toml"), "w") as f:
            f.write(f'database_dir = "{db}"\nstate_dir = "{state}"\nclamd_conf = "{work}/clamd.conf"\nsleep = "0"\n')
        with open(os.path.join(conf, "feeds.d", "daily.toml"), "w") as f:
            # The model's daily carries ignore lists, allow lists and engine files, as the real one does.
            f.write(f'mirrors = ["http://127.0.0.1:{port}/"]\ninterval = "0s"\nintegrity = "sha256"\n'
                    'may_silence = true\nmay_configure = true\n')
            for name in daily_files:
                f.write(f'[[files]]\nname = "{name}"\n')
        env = dict(os.environ, SIGCTL_CONFIG=conf)
        update = [binary, "update", "--json"]

        code, out, err, first_wall, first = run_sampled(update, env, clamd.pid)
        if code != 0:
            sys.exit(f"first update failed with exit {code}: {out}\n{err}")
        clamd_steady = rss_mib(clamd.pid)

        reload_seconds, reload_peak = clamd_reload(sock, clamd.pid, log)

        def change_daily(source, what):
            # Publish another daily and run one update; it must install.
            for name in daily_files:
                publish_file(mirror, name, os.path.join(source, name))
            code, out, err, wall, sample = run_sampled(update, env, clamd.pid)
            report = json.loads(out) if out.strip() else {}
            if code != 0 or not report.get("installed"):
                sys.exit(f"{what} was not installed (exit {code}): {out}\n{err}")
            return wall, sample, report

        # The daily change, back and forth between the two versions; the figures are medians.
        changes = [change_daily(next_src if i % 2 == 0 else src, "the daily change") for i in range(args.repeat)]
        median = lambda values: statistics.median(values)
        walls = [c[0] - c[2]["phases"].get("index", 0) for c in changes]  # upstream to confirmed
        children = [c[2].get("verification") or {} for c in changes]
        child_times = [c.get("load_seconds", 0) + c.get("compile_seconds", 0) for c in children]
        child_peaks = [c.get("peak_rss_mib", 0) for c in children]
        host_peaks = [c[1].peak_host for c in changes]
        wall, change, report = changes[len(changes) // 2]
        wall = median(walls)
        phases, child = report["phases"], children[len(changes) // 2]
        child_seconds, child_peak = median(child_times), median(child_peaks)

        # One message, as an admin checks a suspicious mail.
        message = os.path.join(work, "message.eml")
        with open(message, "w") as f:
            f.write("From: a@example.org\nTo: b@example.org\nSubject: scale\n\nhello\n")
        code, _, test_wall, test_rss = measured([binary, "test", message], env)
        _, _, scan_wall, scan_rss = measured(["clamscan", "--no-summary", f"--database={db}", message])
        code_c, _, clamd_test_wall, clamd_test_rss = measured([binary, "test", "--clamd", message], env)
        daily_ndb = [n for n in info["daily"] if n.endswith(".ldb")][0]
        with open(os.path.join(next_src if not args.packed else os.path.join(set_dir, "next", "plain"), daily_ndb)) as f:
            f.readline()
            signature = f.readline().split(";")[0]
        code_e, out_e, explain_wall, explain_rss = measured([binary, "explain", signature], env, capture=True)
        _, _, explain_again, _ = measured([binary, "explain", signature], env, capture=True)

        # A second daily change (back to the first version) with the false-positive gate on.
        gated = None
        if args.ham and os.path.isdir(args.ham):
            with open(os.path.join(conf, "sigctl.toml"), "a") as f:
                f.write(f'ham_corpus = "{os.path.abspath(args.ham)}"\n')
            gated_wall, gated_sample, gated_report = change_daily(src if args.repeat % 2 else next_src, "the gated change")
            gated = (gated_wall, gated_sample, gated_report.get("corpora") or {}, gated_report["phases"])

        mib = lambda kib: kib / 1024
        print(f"sigctl at production size — {kind} files; {info['signatures']:,} generated signatures "
              f"+ bytecode; {loaded:,} loaded; binary {binary}")
        print(f"bare libclamav load+compile of the changed set: {bare_seconds:.1f} s, peak {bare_rss:.0f} MiB  (the limit; "
              f"median of {args.repeat}: {', '.join(f'{t:.1f}' for t in bare_times)} s)")
        print(f"clamd: first load {clamd_start:.1f} s; steady {clamd_steady:.0f} MiB "
              f"(before sigctl's first install {clamd_steady_before:.0f} MiB)")
        print(f"clamd's own RELOAD: {reload_seconds:.1f} s, peak {reload_peak:.0f} MiB")
        print(f"first install by sigctl: {first_wall:.1f} s, sigctl tree peak {first.peak_tree:.0f} MiB")
        print(f"one daily change, upstream to clamd confirmed: {wall:.1f} s (median of {', '.join(f'{w:.1f}' for w in walls)})")
        for phase in ("fetch", "check", "verify", "install", "reload", "index"):
            print(f"  {phase:8s} {phases.get(phase, 0):7.1f} s")
        print(f"  verification child (medians): load+compile {child_seconds:.1f} s "
              f"({', '.join(f'{t:.1f}' for t in child_times)}), peak {child_peak} MiB")
        print(f"  sigctl tree peak {change.peak_tree:.0f} MiB; clamd peak {change.peak_clamd:.0f} MiB; "
              f"host peak (sampled together) {median(host_peaks):.0f} MiB (median)")
        print("ratios of the medians (issue 8's targets):")
        print(f"  verification child time / bare load      {child_seconds / bare_seconds:.2f}  (<= 1.05)")
        print(f"  verification child peak / bare peak      {child_peak / bare_rss:.2f}  (<= 1.05)")
        print(f"  host peak / clamd's own reload peak      {median(host_peaks) / reload_peak:.2f}  (<= 1.05)")
        print(f"  update wall / (bare load + clamd reload) {wall / (bare_seconds + reload_seconds):.2f}  (<= 1.1)")
        if gated:
            gated_wall, sample, corpora, gphases = gated
            print(f"the change back, with ham_corpus ({corpora.get('messages', 0)} messages): {gated_wall:.1f} s "
                  f"(verify {gphases.get('verify', 0):.1f} s incl. the gate)")
            print(f"  corpus child: {corpora.get('mode')}; {corpora.get('changed_names', 0):,} changed names, "
                  f"{corpora.get('delta_lines', 0):,} lines in the small engines, {corpora.get('flagged', 0)} messages flagged, "
                  f"{corpora.get('whole_loads', 0)} whole loads; {corpora.get('seconds', 0):.1f} s, peak {corpora.get('peak_rss_mib', 0)} MiB")
            print(f"  sigctl tree peak {sample.peak_tree:.0f} MiB; host peak {sample.peak_host:.0f} MiB "
                  f"= {sample.peak_host / reload_peak:.2f} x clamd's own reload peak")
            print(f"  gated update wall / (bare load + clamd reload) {gated_wall / (bare_seconds + reload_seconds):.2f}")
        print(f"sigctl test, one message: {test_wall:.1f} s, {test_rss:.0f} MiB (exit {code}); "
              f"clamscan: {scan_wall:.1f} s, {scan_rss:.0f} MiB; ratios {test_wall / scan_wall:.2f} time, "
              f"{test_rss / scan_rss:.2f} memory (<= 1.0, <= 1.1)")
        print(f"sigctl test --clamd, one message: {clamd_test_wall:.2f} s, {clamd_test_rss:.0f} MiB (exit {code_c})  (seconds)")
        print(f"sigctl explain {signature}: {explain_wall:.2f} s, {explain_rss:.0f} MiB, "
              f"{'found' if code_e == 0 else 'not found (exit %d)' % code_e}; again {explain_again:.2f} s  (< 1 s)")
    finally:
        stop(procs, grace=30)
        if args.keep:
            print(f"sandbox kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
