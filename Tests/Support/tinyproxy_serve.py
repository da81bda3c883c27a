#!/usr/bin/env python3
"""Runs Debian's tinyproxy on 127.0.0.1 for sigctl's proxy tests.

tinyproxy cannot take a listening socket from its parent, so a free port is found
here and written into its config. tinyproxy runs in the foreground and logs to its
stdout; each line is copied into WORKDIR/tinyproxy.log, where the tests read which
requests went through it. Once tinyproxy says it accepts connections, the port goes
to this process's stderr as "tinyproxy: proxying on 127.0.0.1:PORT". A port taken
by someone else between the two steps makes tinyproxy exit; then another is tried.
SIGTERM kills tinyproxy and waits for it, so the port is closed once this process ends.
"""
import argparse, os, signal, socket, subprocess, sys

parser = argparse.ArgumentParser()
parser.add_argument("--workdir", required=True)
parser.add_argument("--connect-port", type=int, action="append", default=[],
                    help="a port CONNECT may reach (none: every port)")
args = parser.parse_args()
# Started from a thread that blocks signals (the test runner's), SIGTERM arrives blocked.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])

work = os.path.abspath(args.workdir)
os.makedirs(work, exist_ok=True)
log = open(os.path.join(work, "tinyproxy.log"), "a", buffering=1)


def free_port():
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def start(port):
    config = os.path.join(work, "tinyproxy.conf")
    allowed = "".join(f"ConnectPort {p}\n" for p in args.connect_port)
    with open(config, "w") as f:
        f.write(f"Port {port}\nListen 127.0.0.1\nTimeout 60\nLogLevel Info\nMaxClients 50\n"
                f"Allow 127.0.0.1\nDisableViaHeader Yes\n{allowed}")
    child = subprocess.Popen(["/usr/bin/tinyproxy", "-d", "-c", config],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in child.stdout:
        log.write(line)
        if "Accepting connections" in line:
            return child
    child.wait()
    return None


for attempt in range(5):
    port = free_port()
    proxy = start(port)
    if proxy:
        break
else:
    print("tinyproxy: did not start; see " + os.path.join(work, "tinyproxy.log"), file=sys.stderr, flush=True)
    sys.exit(1)

def stop(*_):
    # The proxy down at once: the port refuses connections when this process is gone.
    proxy.kill()
    proxy.wait()
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print(f"tinyproxy: proxying on 127.0.0.1:{port}", file=sys.stderr, flush=True)
for line in proxy.stdout:
    log.write(line)
proxy.wait()
