#!/usr/bin/env python3
"""Fake Bookinfo backends for config/examples/bookinfo: one HTTP server per ServiceEntry endpoint.

Every server answers any GET/HEAD/POST/... with a JSON document naming its service and version, plus the method,
path and request headers it received, so you can see which subset a request reached and what the gateway sent
(Host, x-forwarded-for, end-user, ...):

    {"service": "reviews", "version": "v2", "port": 19084, "method": "GET", "path": "/reviews/0", "headers": {...}}

`/status/<code>` answers with that status code instead of 200, which helps when trying retries.

Usage:  python3 backends.py [--host 127.0.0.1] [--only reviews]        (Ctrl-C or SIGTERM stops all servers)

Only the Python standard library is used. The endpoint table must match services.yaml.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (service, version, local port): keep in step with the endpoints in services.yaml.
ENDPOINTS = [
    ("productpage", "v1", 19080),
    ("details", "v1", 19081),
    ("ratings", "v1", 19082),
    ("reviews", "v1", 19083),
    ("reviews", "v2", 19084),
    ("reviews", "v3", 19085),
]


def make_handler(service, version, port):
    class Handler(BaseHTTPRequestHandler):
        # Headers and body go out in separate writes; without this, Nagle + delayed ACK add ~40 ms per response.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"  # keep-alive, like the real services
        server_version = f"{service}-{version}"

        def _answer(self):
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            status = 200
            parts = self.path.split("?", 1)[0].split("/")
            if len(parts) == 3 and parts[1] == "status" and parts[2].isdigit():
                status = int(parts[2])
            doc = {
                "service": service,
                "version": version,
                "port": port,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            body = (json.dumps(doc, indent=2) + "\n").encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

        def log_message(self, fmt, *args):
            sys.stderr.write(f"{service}-{version}:{port} {self.address_string()} {fmt % args}\n")

    return Handler


def main():
    parser = argparse.ArgumentParser(description="Start fake Bookinfo backends.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--only", action="append", metavar="SERVICE", help="start only this service (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args()

    servers = []
    for service, version, port in ENDPOINTS:
        if args.only and service not in args.only:
            continue
        handler = make_handler(service, version, port)
        if args.quiet:
            handler.log_message = lambda self, fmt, *a: None
        try:
            server = ThreadingHTTPServer((args.host, port), handler)
        except OSError as error:
            for started in servers:
                started.server_close()
            sys.exit(f"cannot listen on {args.host}:{port} for {service} {version}: {error}")
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"{service:<12} {version:<3} http://{args.host}:{port}/", flush=True)

    if not servers:
        sys.exit("no backend selected")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
