#!/usr/bin/env python3
"""A stand-in for the Next.js frontend of the migration seed (stdlib only).

At start it reads the app directory's dotenv files the way Next.js does with
NODE_ENV=production (`.env.production.local`, `.env.local`, `.env.production`,
`.env`; the first file that defines a key wins, and the real process
environment beats every file) and freezes NEXT_PUBLIC_USE_BACKEND_API and
BACKEND_API_ROLLOUT_PERCENT: like an inlined NEXT_PUBLIC_* value, a change in
the files shows only after a restart.

Usage: sample_app.py [APP_DIR]

Environment:
  SAMPLE_APP_PORT         port to listen on, required
  SAMPLE_APP_HOST         loopback address to listen on (default 127.0.0.1; must
                          be in 127.0.0.0/8: the fleet harness gives each host its own)
  SAMPLE_APP_DIR          app directory holding the dotenv files, if no APP_DIR
                          argument (default: cwd)
  SAMPLE_APP_PIDFILE      optional file to write the pid into
  SAMPLE_APP_HEALTH_FAIL  "1" makes /api/health answer 503 for this process's life

A file named `.unhealthy` in the app directory makes /api/health answer 503
while it exists (checked on every request).

Endpoints:
  GET  /api/health          200 {"status":"ok","backend_api":"true"|"false",...} or 503
  GET  /api/config          200 {"flags":{"NEXT_PUBLIC_USE_BACKEND_API":<value read at
                            start>,"BACKEND_API_ROLLOUT_PERCENT":"<n>"},"pid":...}
  GET  /                    HTML containing NEXT_PUBLIC_USE_BACKEND_API=<value>
  POST /api/auth/register   200 {"ok":true,"via":"backend-api"|"direct-db"}
  POST /api/auth/login      same
  GET  /metrics             Prometheus text format, computed from uptime

Metrics model (deterministic, a function of uptime and the frozen flag):
  the "backend share" s is rollout_percent/100 while the flag is on, else 0.
  api_requests_total         2 per second of uptime
  api_errors_total           0.2 * s per second of uptime (0 growth while off): an
                             error ratio (errors / requests) of 10 % * s
  api_request_latency_seconds  2 observations per second; a share s of them
                             take 3 s (bucket le=5), the rest 0.05 s (le=0.1)
  db_connection_pool_usage   0.30 + 0.65 * s (0.95 with the flag on at 100%)
"""

import datetime
import html
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FLAG_KEY = "NEXT_PUBLIC_USE_BACKEND_API"
PERCENT_KEY = "BACKEND_API_ROLLOUT_PERCENT"
ENV_FILES = (".env.production.local", ".env.local", ".env.production", ".env")

REQUESTS_PER_SECOND = 2.0
ERRORS_PER_SECOND_AT_FULL_ROLLOUT = 0.2
SLOW_LATENCY_S = 3.0
FAST_LATENCY_S = 0.05
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0)
POOL_OFF = 0.30
POOL_ON = 0.95

# The line regex of the `dotenv` npm package (v16), which Next.js uses through
# @next/env: optional `export `, KEY, `=` or `: `, then a single-, double- or
# backtick-quoted value (which may span lines) or an unquoted value that ends
# at `#` or the end of the line.
_DOTENV_LINE = re.compile(
    r"^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)"
    r"(\s*'(?:\\'|[^'])*'|\s*\"(?:\\\"|[^\"])*\"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?"
    r"\s*(?:#.*)?$",
    re.MULTILINE | re.ASCII,
)
_SURROUNDING_QUOTES = re.compile(r"^(['\"`])([\s\S]*)\1$", re.MULTILINE)


def parse_dotenv(text):
    """Parse dotenv text like dotenv v16: within one file the last duplicate wins."""
    result = {}
    text = re.sub(r"\r\n?", "\n", text)
    for match in _DOTENV_LINE.finditer(text):
        key = match.group(1)
        value = (match.group(2) or "").strip()
        quote = value[:1]
        value = _SURROUNDING_QUOTES.sub(r"\2", value)
        if quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        result[key] = value
    return result


def load_env(app_dir, process_env):
    """Merge the dotenv files like @next/env: process env first, then first file wins."""
    merged = {}
    sources = {}
    for name in ENV_FILES:
        path = os.path.join(app_dir, name)
        try:
            with open(path, encoding="utf-8") as handle:
                parsed = parse_dotenv(handle.read())
        except FileNotFoundError:
            continue
        for key, value in parsed.items():
            if key not in merged:
                merged[key] = value
                sources[key] = name
    for key in (FLAG_KEY, PERCENT_KEY):
        if key in process_env:
            merged[key] = process_env[key]
            sources[key] = "process environment"
    return merged, sources


def parse_percent(raw):
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return 100
    return max(0, min(100, value))


class App:
    def __init__(self, app_dir, env):
        self.app_dir = app_dir
        values, self.sources = load_env(app_dir, env)
        self.flag_value = values.get(FLAG_KEY, "")
        self.backend_api = self.flag_value == "true"
        self.rollout_percent = parse_percent(values.get(PERCENT_KEY, "100"))
        self.backend_share = self.rollout_percent / 100.0 if self.backend_api else 0.0
        self.health_fail = env.get("SAMPLE_APP_HEALTH_FAIL", "") in ("1", "true", "yes")
        self.started_monotonic = time.monotonic()
        self.started_at = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"
        )
        self.start_time_seconds = time.time()
        self._auth_counter = 0
        self._lock = threading.Lock()

    def uptime(self):
        return time.monotonic() - self.started_monotonic

    def healthy(self):
        if self.health_fail:
            return False
        return not os.path.exists(os.path.join(self.app_dir, ".unhealthy"))

    def health(self):
        return {
            "status": "ok" if self.healthy() else "unhealthy",
            "backend_api": "true" if self.backend_api else "false",
            "flag_value": self.flag_value,
            "rollout_percent": self.rollout_percent,
            "pid": os.getpid(),
            "started_at": self.started_at,
            "uptime_s": round(self.uptime(), 3),
        }

    def config(self):
        """The flag values this process read at start (what `pickup.http` checks)."""
        return {
            "flags": {
                FLAG_KEY: self.flag_value,
                PERCENT_KEY: str(self.rollout_percent),
            },
            "pid": os.getpid(),
            "started_at": self.started_at,
        }

    def auth_via(self):
        """Route a share of auth calls to the backend API, deterministically."""
        with self._lock:
            slot = self._auth_counter % 100
            self._auth_counter += 1
        if self.backend_api and slot < self.rollout_percent:
            return "backend-api"
        return "direct-db"

    def page(self):
        value = html.escape(self.flag_value)
        mode = "backend API" if self.backend_api else "direct database access"
        return (
            "<!DOCTYPE html>\n<html><head><title>Frontend</title></head><body>\n"
            f"<h1>Frontend</h1>\n<p>Data access: {html.escape(mode)} "
            f"(rollout {self.rollout_percent}%)</p>\n"
            f"<pre id=\"env\">{FLAG_KEY}={value}\n"
            f"{PERCENT_KEY}={self.rollout_percent}</pre>\n"
            f"<script>window.__ENV__ = {json.dumps({FLAG_KEY: self.flag_value})};</script>\n"
            "</body></html>\n"
        )

    def metrics(self):
        uptime = self.uptime()
        share = self.backend_share
        requests = int(REQUESTS_PER_SECOND * uptime)
        slow = min(requests, int(REQUESTS_PER_SECOND * share * uptime))
        fast = requests - slow
        errors = ERRORS_PER_SECOND_AT_FULL_ROLLOUT * share * uptime
        pool = POOL_OFF + (POOL_ON - POOL_OFF) * share
        lines = [
            "# HELP api_requests_total API requests served.",
            "# TYPE api_requests_total counter",
            f"api_requests_total {requests}",
            "# HELP api_errors_total API requests that failed with a 5xx.",
            "# TYPE api_errors_total counter",
            f"api_errors_total {errors:.4f}",
            "# HELP api_request_latency_seconds API request latency.",
            "# TYPE api_request_latency_seconds histogram",
        ]
        for bound in BUCKETS:
            count = (fast if bound >= FAST_LATENCY_S else 0) + (
                slow if bound >= SLOW_LATENCY_S else 0
            )
            lines.append(f'api_request_latency_seconds_bucket{{le="{bound:g}"}} {count}')
        lines.append(f'api_request_latency_seconds_bucket{{le="+Inf"}} {requests}')
        lines.append(
            f"api_request_latency_seconds_sum {fast * FAST_LATENCY_S + slow * SLOW_LATENCY_S:.4f}"
        )
        lines.append(f"api_request_latency_seconds_count {requests}")
        lines += [
            "# HELP db_connection_pool_usage Share of the database pool in use.",
            "# TYPE db_connection_pool_usage gauge",
            f"db_connection_pool_usage {pool:.4f}",
            "# HELP sample_app_backend_api_enabled 1 if the frozen flag is true.",
            "# TYPE sample_app_backend_api_enabled gauge",
            f"sample_app_backend_api_enabled {1 if self.backend_api else 0}",
            "# HELP sample_app_rollout_percent The frozen rollout percentage.",
            "# TYPE sample_app_rollout_percent gauge",
            f"sample_app_rollout_percent {self.rollout_percent}",
            "# HELP process_start_time_seconds Start time of the process (Unix seconds).",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self.start_time_seconds:.3f}",
        ]
        return "\n".join(lines) + "\n"


def make_handler(app):
    class Handler(BaseHTTPRequestHandler):
        server_version = "sample-frontend/1"
        protocol_version = "HTTP/1.1"

        def _send(self, status, body, content_type):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _json(self, status, obj):
            self._send(status, json.dumps(obj, separators=(",", ":")) + "\n", "application/json")

        def _path(self):
            return self.path.split("?", 1)[0]

        def do_GET(self):
            path = self._path()
            if path == "/api/health":
                self._json(200 if app.healthy() else 503, app.health())
            elif path == "/api/config":
                self._json(200, app.config())
            elif path == "/metrics":
                self._send(200, app.metrics(), "text/plain; version=0.0.4; charset=utf-8")
            elif path in ("/", "/index.html"):
                self._send(200, app.page(), "text/html; charset=utf-8")
            else:
                self._json(404, {"ok": False, "error": "not found"})

        do_HEAD = do_GET

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(min(length, 1 << 20))
            path = self._path()
            if path in ("/api/auth/register", "/api/auth/login"):
                self._json(200, {"ok": True, "via": app.auth_via()})
            else:
                self._json(404, {"ok": False, "error": "not found"})

        def log_message(self, fmt, *args):
            if self._path() == "/metrics":
                return
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    return Handler


def main():
    port_text = os.environ.get("SAMPLE_APP_PORT", "")
    if not port_text.isdigit():
        sys.stderr.write("sample_app: SAMPLE_APP_PORT must be set to a port number\n")
        return 2
    # An optional argument names the app dir too (it shows in `ps`).
    app_dir = (sys.argv[1] if len(sys.argv) > 1 else "") or os.environ.get("SAMPLE_APP_DIR")
    app_dir = app_dir or os.getcwd()
    host = os.environ.get("SAMPLE_APP_HOST", "") or "127.0.0.1"
    if not re.fullmatch(r"127\.\d{1,3}\.\d{1,3}\.\d{1,3}", host):
        sys.stderr.write("sample_app: SAMPLE_APP_HOST must be a loopback address (127.x.y.z)\n")
        return 2
    app = App(app_dir, os.environ)
    server = ThreadingHTTPServer((host, int(port_text)), make_handler(app))
    server.daemon_threads = True
    pidfile = os.environ.get("SAMPLE_APP_PIDFILE")
    if pidfile:
        with open(pidfile, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")

    def remove_pidfile():
        if not pidfile:
            return
        try:
            with open(pidfile, encoding="utf-8") as handle:
                if handle.read().strip() == str(os.getpid()):
                    os.unlink(pidfile)
        except OSError:
            pass

    def stop(_signum, _frame):
        # Nothing to drain: answer no more requests, leave at once.
        remove_pidfile()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write(
        f"sample_app: pid {os.getpid()} on {host}:{port_text}, "
        f"{FLAG_KEY}={app.flag_value!r} (from {app.sources.get(FLAG_KEY, 'nowhere')}), "
        f"{PERCENT_KEY}={app.rollout_percent}\n"
    )
    server.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
