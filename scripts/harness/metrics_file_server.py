#!/usr/bin/env python3
"""Serve one Prometheus text-format file over loopback, re-read on every request.

  metrics_file_server.py FILE PORT

Every GET path answers with the file's current content (tests rewrite it to
feed Prometheus), Content-Type `text/plain; version=0.0.4`. A missing file
answers 404 so the scrape fails visibly. Binds 127.0.0.1 only.
"""

import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main(argv):
    if len(argv) != 3 or not argv[2].isdigit():
        sys.stderr.write(__doc__)
        return 2
    path, port = argv[1], int(argv[2])

    class Handler(BaseHTTPRequestHandler):
        server_version = "metrics-file-server/1"

        def do_GET(self):
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
                status = 200
            except OSError as error:
                data = f"cannot read metrics file: {error.strerror}\n".encode()
                status = 404
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_HEAD = do_GET

        def log_message(self, fmt, *args):
            # Prometheus scrapes every second: log only failures.
            if args and len(args) > 1 and str(args[1]) != "200":
                sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    # Nothing to flush: SIGTERM/SIGINT end the process at once.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
