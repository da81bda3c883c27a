#!/usr/bin/env python3
"""A loopback rsync daemon for sigctl's tests: the real `rsync --daemon`, started per
connection the way Debian's rsync.socket (inetd mode) starts it.

Listens on 127.0.0.1 (port 0 unless --port), announces the port on stderr
("rsyncd: listening on 127.0.0.1:PORT"), and hands each accepted connection to `rsync --daemon --config=CONFIG` as its stdin and stdout.
Stop it (SIGTERM) to make the daemon "down": the port then refuses connections.
Each connection is logged to --log as one line, so tests can count requests.
"""
import argparse, signal, socket, subprocess, sys

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--log")
args = parser.parse_args()

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", args.port))
listener.listen(64)
port = listener.getsockname()[1]
print(f"rsyncd: listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
# Started from a thread that blocks signals (the test runner's), SIGTERM would stay
# pending until the 5 s SIGKILL of stopProcess.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel

while True:
    connection, address = listener.accept()
    if args.log:
        with open(args.log, "a") as log:
            log.write(f"connection from {address[0]}:{address[1]}\n")
    subprocess.Popen(["rsync", "--daemon", f"--config={args.config}"],
                     stdin=connection.fileno(), stdout=connection.fileno(), stderr=subprocess.DEVNULL,
                     close_fds=True)
    connection.close()
