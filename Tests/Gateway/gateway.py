#!/usr/bin/env python3
"""sigctl on a real Debian 12 mail gateway (issue 9): the package installed in a
Debian 12 system with Postfix, clamav-milter and clamd in their Debian setup,
clamd running as clamav, mail sent over SMTP to 127.0.0.1.

    gateway.py --deb dist/sigctl_VERSION_amd64.deb [--cache DIR] [--keep]

It needs root. The Debian system is a debootstrap of bookworm (cached as a
tarball in --cache after the first run); the daemons are started with Debian's
init scripts inside a network, PID and mount namespace of their own, so the
only network is that namespace's loopback and every daemon dies with the test.
Exit status: 0 passed, 1 failed, 77 skipped (the reason is printed).
"""
import argparse, hashlib, json, os, re, shutil, smtplib, socket, subprocess, sys, tempfile, threading, uuid

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
MIRROR = os.path.join(HERE, "..", "Support", "mirror.py")
CVDS = os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "clamav-cvd")
# The gateway has no network: the image must hold everything the package Depends on
# and Recommends (apt installs recommends), or installing it fails on a download.
PACKAGES = ["postfix", "clamav-daemon", "clamav-milter", "libclamav12", "libcurl4", "gpgv", "adduser", "python3", "rsync"]
failures = []


def log(text):
    print(f"gateway: {text}", flush=True)
    sys.stdout.flush()


def expect(condition, text):
    log(("ok: " if condition else "FAILED: ") + text)
    if not condition:
        failures.append(text)
    return condition


def run(cmd, check=True, **kw):
    # Output goes through files, not pipes: a daemon started by an init script keeps
    # its inherited descriptors, and a pipe would never reach end-of-file.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        returncode = subprocess.run(cmd, text=True, stdout=out, stderr=err, stdin=subprocess.DEVNULL, **kw).returncode
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(cmd, returncode, out.read(), err.read())
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}: {result.stdout}{result.stderr}")
    return result


class Gateway:
    def __init__(self, root):
        self.root = root

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def sh(self, command, user=None, check=True):
        """A shell command inside the Debian system, as root or (through setpriv) as user."""
        cmd = ["chroot", self.root]
        if user:
            cmd += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
        return run(cmd + ["/bin/sh", "-c", command], check=check,
                   env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "TZ": "UTC"})

    def write(self, p, text, mode=0o644):
        with open(self.path(p), "w") as f:
            f.write(text)
        os.chmod(self.path(p), mode)


def base_tarball(cache):
    """Debian 12 with the gateway's packages, made once with debootstrap."""
    key = hashlib.sha256(" ".join(PACKAGES).encode()).hexdigest()[:12]
    tarball = os.path.join(cache, f"bookworm-gateway-{key}.tar")
    if os.path.exists(tarball):
        return tarball
    if not shutil.which("debootstrap"):
        print("gateway: SKIP: debootstrap is not installed (apt-get install debootstrap)")
        sys.exit(SKIP)
    os.makedirs(cache, exist_ok=True)
    work = tempfile.mkdtemp(prefix="debootstrap-", dir=cache)
    mirror = os.environ.get("SIGCTL_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    log(f"debootstrap bookworm from {mirror} (once; cached in {tarball})")
    made = run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), "bookworm", work, mirror], check=False)
    if made.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        print(f"gateway: SKIP: cannot install Debian 12 with {', '.join(PACKAGES)} from {mirror}: {made.stdout[-400:]}{made.stderr[-400:]}")
        sys.exit(SKIP)
    # As a Debian 12 server has it: bookworm-updates and the security archive too
    # (libclamav12 comes from there; the package needs the same version it was built with).
    security = os.environ.get("SIGCTL_DEBIAN_SECURITY", mirror.rsplit("/debian", 1)[0] + "/debian-security")
    with open(os.path.join(work, "etc/apt/sources.list"), "w") as f:
        f.write(f"deb {mirror} bookworm main\ndeb {mirror} bookworm-updates main\ndeb {security} bookworm-security main\n")
    shutil.copy("/etc/resolv.conf", os.path.join(work, "etc/resolv.conf"))
    upgraded = run(["chroot", work, "/bin/sh", "-c", "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get -y -q upgrade && apt-get clean"],
                   check=False)
    if upgraded.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        print(f"gateway: SKIP: cannot upgrade the Debian 12 system from {mirror} and {security}: {upgraded.stderr[-400:]}")
        sys.exit(SKIP)
    run(["tar", "-C", work, "-cf", tarball + ".tmp", "."])
    os.rename(tarball + ".tmp", tarball)
    shutil.rmtree(work, ignore_errors=True)
    return tarball


def prepare(gw, deb):
    """Installs the package the README's way and wires clamav-milter into Postfix as
    Debian's clamav-milter README describes; nothing starts during the installation."""
    gw.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)
    shutil.copy(deb, gw.path("/tmp/" + os.path.basename(deb)))
    gw.sh(f"apt-get install -y -q /tmp/{os.path.basename(deb)}")
    os.remove(gw.path("/usr/sbin/policy-rc.d"))
    # What freshclam left on a Debian gateway before sigctl came: signed official
    # databases (ClamAV's test CVDs from the fixtures stand in for main and daily,
    # which Debian's clamav-daemon init script insists on).
    shutil.copy(os.path.join(CVDS, "test-3.cvd"), gw.path("/var/lib/clamav/main.cvd"))
    shutil.copy(os.path.join(CVDS, "test-4.cvd"), gw.path("/var/lib/clamav/daily.cvd"))
    gw.sh("chown clamav:clamav /var/lib/clamav/main.cvd /var/lib/clamav/daily.cvd && chmod 0644 /var/lib/clamav/*.cvd")
    gw.sh("id alice >/dev/null 2>&1 || useradd -m alice")
    gw.sh("postconf -e myhostname=gateway.test mydestination='gateway.test, localhost' inet_interfaces=loopback-only "
          "inet_protocols=ipv4 smtpd_milters=unix:/clamav/clamav-milter.ctl milter_default_action=tempfail "
          "maillog_file=/var/log/postfix.log && newaliases")
    conf = open(gw.path("/etc/clamav/clamav-milter.conf")).read()
    for key, value in [("MilterSocket", "/var/spool/postfix/clamav/clamav-milter.ctl"), ("MilterSocketGroup", "postfix"),
                       ("MilterSocketMode", "660"), ("OnInfected", "Reject")]:
        conf = re.sub(rf"(?m)^{key} .*\n", "", conf) + f"{key} {value}\n"
    gw.write("/etc/clamav/clamav-milter.conf", conf)
    gw.sh("install -d -o clamav -g postfix -m 0750 /var/spool/postfix/clamav")
    # Only the loopback mirror: the shipped third-party feeds are switched off.
    for name in ("sanesecurity", "urlhaus"):
        p = f"/etc/sigctl/feeds.d/{name}.toml"
        gw.write(p, re.sub(r"(?m)^enabled = true$", "enabled = false", open(gw.path(p)).read(), count=1))
    gw.sh("install -d -o clamav -g clamav /var/lib/sigctl/metrics")
    with open(gw.path("/etc/sigctl/sigctl.toml"), "a") as f:
        f.write('\nsleep = "0"\nmetrics_textfile = "/var/lib/sigctl/metrics/sigctl.prom"\n')


def clamd_answers(gw):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(gw.path("/run/clamav/clamd.ctl"))
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False


def wait_for_text(path, text, what, timeout=120):
    """Waits until `text` appears in the file at `path`: tail -F follows it (with
    inotify) and the test reads tail's lines as they come."""
    tail = subprocess.Popen(["tail", "-n", "+1", "-F", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, errors="replace")
    timer = threading.Timer(timeout, tail.kill)
    timer.start()
    try:
        return expect(any(text in line for line in tail.stdout), f"{what} within {timeout}s")
    finally:
        timer.cancel()
        tail.kill()
        tail.wait()


def send(subject, body):
    """One message over SMTP; returns the SMTP code of the end of DATA."""
    message = f"From: bob@example.org\r\nTo: alice@gateway.test\r\nSubject: {subject}\r\nMessage-ID: <{uuid.uuid4()}@example.org>\r\n\r\n{body}\r\n"
    with smtplib.SMTP("127.0.0.1", 25, timeout=120) as smtp:
        try:
            smtp.sendmail("bob@example.org", ["alice@gateway.test"], message)
            return 250
        except smtplib.SMTPDataError as error:
            return error.smtp_code
        except smtplib.SMTPRecipientsRefused as error:
            return list(error.recipients.values())[0][0]


def publish(mirror_root, name, text):
    os.makedirs(os.path.join(mirror_root, "gw"), exist_ok=True)
    path = os.path.join(mirror_root, "gw", name)
    with open(path, "w") as f:
        f.write(text)
    with open(path + ".sha256", "w") as f:
        f.write(hashlib.sha256(text.encode()).hexdigest() + f"  {name}\n")


def signature(name):
    marker = f"sigctl gateway marker {name} {uuid.uuid4()}"
    return f"{name}:0:*:{marker.encode().hex()}\n", marker


def check(gw):
    result = gw.sh("sigctl check", user="clamav", check=False)
    return result.returncode, result.stdout.split("\n")[0]


def metrics(gw):
    try:
        return open(gw.path("/var/lib/sigctl/metrics/sigctl.prom")).read()
    except OSError:
        return ""


def scenario(gw, work):
    mirror_root = os.path.join(work, "mirror")
    os.makedirs(mirror_root)
    # The mirror says "mirror: serving ROOT on http://127.0.0.1:PORT/" once it listens.
    mirror = subprocess.Popen([sys.executable, MIRROR, "--root", mirror_root], stderr=subprocess.PIPE, text=True)
    port = int(re.search(r":(\d+)/$", mirror.stderr.readline().strip()).group(1))
    threading.Thread(target=mirror.stderr.read, daemon=True).start()
    gw.write("/etc/sigctl/feeds.d/gw.toml", f'name = "gw"\nmirrors = ["http://127.0.0.1:{port}/gw/"]\ninterval = "0s"\n'
             'integrity = "sha256"\n\n[[files]]\nname = "gw.ndb"\nrisk = "low"\n')

    # First run: setup's choice, then the cron line exactly as cron would run it.
    setup = gw.sh("sigctl setup --official freshclam --schedule cron", check=False)
    expect(setup.returncode == 0, f"sigctl setup --official freshclam --schedule cron: {setup.stdout}{setup.stderr}")
    cron = open(gw.path("/etc/cron.d/sigctl")).read().strip().split("\n")[-1].split(None, 6)
    expect(cron[5] == "clamav", f"the cron line runs as clamav: {' '.join(cron)}")
    first, first_marker = signature("Gateway.Test.First")
    publish(mirror_root, "gw.ndb", first)
    initial = gw.sh(cron[6], user=cron[5], check=False)
    expect(initial.returncode == 3, f"the first update installs with clamd not running yet (exit 3, set kept): {initial.stderr}")

    # The daemons, the Debian way. clamd and clamav-milter signal their init script
    # only once they listen, so the sockets are there when it returns.
    for service in ("clamav-daemon", "clamav-milter", "postfix"):
        started = gw.sh(f"/etc/init.d/{service} start", check=False)
        expect(started.returncode == 0, f"/etc/init.d/{service} start: {started.stdout}{started.stderr}")
    expect(clamd_answers(gw), "clamd answers on /run/clamav/clamd.ctl")
    clamd_pid = open(gw.path("/run/clamav/clamd.pid")).read().strip()
    expect(gw.sh("ps -o user= -p " + clamd_pid).stdout.strip() == "clamav", "clamd runs as clamav")
    expect(os.path.exists(gw.path("/var/spool/postfix/clamav/clamav-milter.ctl")), "the milter socket is in Postfix's spool")

    confirm = gw.sh(cron[6], user=cron[5], check=False)
    expect(confirm.returncode == 0 and confirm.stdout == "" and confirm.stderr == "",
           f"the next cron run confirms the set and prints nothing: {confirm.returncode} {confirm.stdout}{confirm.stderr}")
    # The stand-in daily is from 2021, so freshclam's databases look stale: that is the
    # one warning; with it sigctl reports set 1 served by clamd.
    stale = "SIGCTL WARNING - clamav: daily was built "
    code, line = check(gw)
    expect(code == 1 and line.startswith(stale) and "'generation'=1;" in line, f"sigctl check: {code} {line}")
    expect("sigctl_live_generation 1\n" in metrics(gw) and "sigctl_live_confirmed 1\n" in metrics(gw), "the textfile says set 1, confirmed")

    # Mail: clean mail is delivered; a message with a signature the feed has not
    # published yet passes; after the update it is rejected, with no restart of clamd.
    expect(send("clean-1", "Hello Alice, lunch tomorrow?") == 250, "clean mail accepted")
    wait_for_text(gw.path("/var/mail/alice"), "Subject: clean-1", "clean mail delivered")
    expect(send("first-1", first_marker) == 550, "a message matching the installed feed signature is rejected (550)")
    second, second_marker = signature("Gateway.Test.Second")
    expect(send("second-1", second_marker) == 250, "a message matching a signature not yet published is accepted")
    publish(mirror_root, "gw.ndb", first + second)
    update = gw.sh(cron[6], user=cron[5], check=False)
    expect(update.returncode == 0, f"sigctl update installs the new signature: {update.stderr}")
    expect(send("second-2", second_marker) == 550, "after sigctl update the same message is rejected (550)")
    expect(open(gw.path("/run/clamav/clamd.pid")).read().strip() == clamd_pid, "clamd was reloaded, not restarted")
    expect(send("clean-2", "Minutes of the meeting attached.") == 250, "clean mail still accepted")
    wait_for_text(gw.path("/var/mail/alice"), "Subject: clean-2", "clean mail delivered after the update")
    code, line = check(gw)
    expect(code == 1 and line.startswith(stale) and "'generation'=2;" in line, f"sigctl check after the update: {code} {line}")
    expect("sigctl_live_generation 2\n" in metrics(gw), "the textfile says set 2")

    # sigctl hits: both rejected messages, from Postfix's log and clamd's (Debian's
    # clamav-milter logs no signature), with the client, the envelope and the feed.
    hits = gw.sh("sigctl hits --json --since all /var/log/postfix.log /var/log/clamav/clamav.log /var/log/clamav/clamav-milter.log",
                 check=False)
    records = [json.loads(l) for l in hits.stdout.splitlines() if l.strip()]
    found = {r.get("signature"): r for r in records if "summary" not in r}
    expect(hits.returncode == 0 and set(found) == {"Gateway.Test.First.UNOFFICIAL", "Gateway.Test.Second.UNOFFICIAL"},
           f"sigctl hits finds the two rejected messages: {hits.returncode} {sorted(found)} {hits.stderr}")
    for name, r in found.items():
        expect((r["client_ip"], r["feed"], r["file"], r["action"], r["sender"], r["recipients"]) ==
               ("127.0.0.1", "gw", "gw.ndb", "rejected", "bob@example.org", ["alice@gateway.test"]),
               f"{name}: client, feed, action and envelope: {r}")
    by_client = gw.sh("sigctl hits --by client --since all /var/log/postfix.log /var/log/clamav/clamav.log", check=False)
    expect(by_client.stdout.splitlines()[1:2] == ["2  127.0.0.1 (localhost)"], f"hits --by client: {by_client.stdout}")

    # A broken upstream file stops at sigctl: exit 2, clamd keeps the set and keeps rejecting.
    publish(mirror_root, "gw.ndb", first + second + "Gateway.Broken:0:*:zz\n")
    broken = gw.sh(cron[6], user=cron[5], check=False)
    expect(broken.returncode == 2 and "gw/gw.ndb" in broken.stderr, f"a broken feed file is rejected with one error: {broken.stderr}")
    expect(send("second-3", second_marker) == 550, "clamd still rejects with the previous set")
    code, line = check(gw)
    expect(code == 1 and line.startswith("SIGCTL WARNING - gw: "), f"check warns about the feed: {code} {line}")
    expect('sigctl_last_run_exit_code 2\n' in metrics(gw), "the textfile says the last run failed")

    # clamd down: mail is deferred by the milter default, and check is critical.
    # The init script's stop waits for clamd to exit (--retry TERM/30/KILL/5).
    gw.sh("/etc/init.d/clamav-daemon stop", check=False)
    expect(not clamd_answers(gw), "clamd stopped")
    code, line = check(gw)
    expect(code == 2 and line.startswith("SIGCTL CRITICAL - clamd "), f"check with clamd down: {code} {line}")
    expect(send("clean-3", "Are you there?") in (451, 421), "mail is deferred while clamd is down (milter_default_action=tempfail)")
    mirror.terminate()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--deb", required=True)
    parser.add_argument("--cache", default="/var/cache/sigctl-test")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("gateway: SKIP: needs root (debootstrap, chroot, namespaces)")
        return SKIP
    if args.inside:
        return inside(args)
    if not os.path.exists(os.path.join(CVDS, "test-4.cvd")):
        print(f"gateway: SKIP: the signed test CVDs are not in {os.path.normpath(CVDS)} (../shared/fixtures)")
        return SKIP
    if not os.path.exists(args.deb):
        print(f"gateway: SKIP: {args.deb} does not exist; run scripts/package first")
        return SKIP
    tarball = base_tarball(args.cache)
    work = tempfile.mkdtemp(prefix="sigctl-gateway-", dir="/var/tmp")
    try:
        os.makedirs(os.path.join(work, "root"))
        run(["tar", "-C", os.path.join(work, "root"), "-xf", tarball])
        os.chmod(os.path.join(work, "root"), 0o755)  # the system's /, whatever mode the cache directory had
        # A network, PID and mount namespace of its own: loopback only, and every daemon dies with it.
        result = subprocess.run(["unshare", "--net", "--pid", "--mount", "--fork", "--mount-proc", sys.executable,
                                 os.path.abspath(__file__), "--deb", os.path.abspath(args.deb), "--inside", work])
        return result.returncode
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def inside(args):
    work = args.inside
    gw = Gateway(os.path.join(work, "root"))
    run(["ip", "link", "set", "lo", "up"])
    run(["mount", "-t", "proc", "proc", gw.path("/proc")])
    run(["mount", "--rbind", "/dev", gw.path("/dev")])
    try:
        prepare(gw, args.deb)
        scenario(gw, work)
    except Exception as error:  # a step that could not run at all
        failures.append(f"{type(error).__name__}: {error}")
        log(f"FAILED: {error}")
    if os.path.exists(gw.path("/var/log/postfix.log")):
        rejected = [l for l in open(gw.path("/var/log/postfix.log")) if "milter-reject" in l]
        log(f"postfix logged {len(rejected)} milter rejections")
    log(f"{len(failures)} failure(s)" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
