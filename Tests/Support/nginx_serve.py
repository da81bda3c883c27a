#!/usr/bin/env python3
"""Serves a directory with Debian's nginx on 127.0.0.1 for sigctl's fleet tests.

The listening socket is made here (port 0) and handed to nginx the way nginx hands
sockets to its own upgraded binary (the NGINX environment variable), so connections
queue from the moment the port is announced: no start-up race, no polling. The port
goes to stderr as "nginx: serving ROOT on 127.0.0.1:PORT"; then this process becomes
nginx (exec), so stopping it stops nginx and the port refuses connections.
"""
import argparse, os, socket, sys

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--workdir", required=True)
parser.add_argument("--port", type=int, default=0)
args = parser.parse_args()

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", args.port))
listener.listen(511)
port = listener.getsockname()[1]
fd = listener.fileno()
os.set_inheritable(fd, True)
work = os.path.abspath(args.workdir)
os.makedirs(work, exist_ok=True)
config = os.path.join(work, "nginx.conf")
with open(config, "w") as f:
    f.write(f"""daemon off;
master_process on;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format sigctl '$remote_addr "$request" $status $body_bytes_sent';
    access_log {work}/access.log sigctl;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {os.path.abspath(args.root)};
        etag on;
        location / {{ }}
    }}
}}
""")
print(f"nginx: serving {args.root} on 127.0.0.1:{port}", file=sys.stderr, flush=True)
os.environ["NGINX"] = f"{fd};"
os.execv("/usr/sbin/nginx", ["nginx", "-c", config, "-e", f"{work}/error.log"])
