#!/usr/bin/env python3
"""Small helpers for the harness scripts (stdlib only, loopback only).

  harness_util.py ports N                       print N distinct free loopback ports
  harness_util.py password                      print a random URL-safe password
  harness_util.py wait-http URL TIMEOUT [CODE [PIDFILE]]
                                                poll until URL answers CODE (default 200);
                                                give up at once if PIDFILE's process died
  harness_util.py get URL                       print the body; exit 1 unless status 200
  harness_util.py prom-query PROM_URL QUERY     print "value" of each sample, one a line
  harness_util.py wait-prom PROM_URL QUERY VALUE TIMEOUT
                                                poll until some sample of QUERY equals VALUE
  harness_util.py json-field FIELD              read JSON on stdin, print FIELD
"""

import json
import secrets
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def free_ports(count):
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def fetch(url, timeout=2.0):
    """Return (status, body) or (None, error text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as error:
        return None, str(error)


def process_died(pidfile):
    """True if PIDFILE names a process that no longer runs (zombies count as dead)."""
    try:
        with open(pidfile, encoding="utf-8") as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return False  # not written yet
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state == "Z"


def prom_values(prom_url, query):
    url = prom_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    status, body = fetch(url)
    if status != 200:
        return None, f"HTTP {status}: {body[:200]}"
    data = json.loads(body)
    if data.get("status") != "success":
        return None, body[:200]
    result = data["data"]["result"]
    if data["data"]["resultType"] == "scalar":
        return [result[1]], None
    return [sample["value"][1] for sample in result], None


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    command, args = argv[1], argv[2:]
    if command == "ports":
        print(" ".join(str(port) for port in free_ports(int(args[0]))))
        return 0
    if command == "password":
        print(secrets.token_hex(16))
        return 0
    if command == "wait-http":
        url, timeout = args[0], float(args[1])
        expected = int(args[2]) if len(args) > 2 else 200
        pidfile = args[3] if len(args) > 3 else None
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            status, body = fetch(url, timeout=1.0)
            if status == expected:
                return 0
            last = f"{status} {body[:200]}"
            if pidfile and process_died(pidfile):
                sys.stderr.write(f"the server for {url} exited (last: {last})\n")
                return 1
            time.sleep(0.1)
        sys.stderr.write(f"timed out after {timeout:g}s waiting for {url} (last: {last})\n")
        return 1
    if command == "get":
        status, body = fetch(args[0])
        sys.stdout.write(body)
        return 0 if status == 200 else 1
    if command == "prom-query":
        values, error = prom_values(args[0], args[1])
        if values is None:
            sys.stderr.write(f"query failed: {error}\n")
            return 1
        for value in values:
            print(value)
        return 0
    if command == "wait-prom":
        prom_url, query, wanted, timeout = args[0], args[1], float(args[2]), float(args[3])
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            values, error = prom_values(prom_url, query)
            last = values if values is not None else error
            if values and any(float(value) == wanted for value in values):
                return 0
            time.sleep(0.2)
        sys.stderr.write(
            f"timed out after {timeout:g}s waiting for {query} == {wanted:g} (last: {last})\n"
        )
        return 1
    if command == "json-field":
        value = json.load(sys.stdin)
        for part in args[0].split("."):
            value = value[part]
        print(value)
        return 0
    sys.stderr.write(f"unknown command {command}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
