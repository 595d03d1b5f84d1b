#!/usr/bin/python3
"""The test fleet's hosts, read and reset from this machine, for bench/fleet.sh.

Usage: fleet_hosts.py COMMAND FLEET_DIR N APP_PORT

  reset        the incident state on host-1 … host-N: the flag back on
               (NEXT_PUBLIC_USE_BACKEND_API=true) in each host's three dotenv files, each
               host's frontend restarted by its own supervisord (XML-RPC on its socket, no
               ssh) and serving "backend_api":"true"; their pids go to FLEET_DIR/bench-pids
  check NAME   every host's three files say false (and not true), its /api/health answers
               "backend_api":"false", and its frontend is not the one `reset` started;
               else says what is wrong and exits 1
  connections  prints each host's count of "Accepted publickey" lines in its sshd.log
               (one authenticated SSH connection each), space-separated, host-1 first

Works on the hosts' files as this machine sees them (FLEET_DIR/hosts/host-K/srv, which
the host sees as /srv/rollback-fleet); hosts are worked on in parallel (threads).
Only loopback addresses: host-K's app is http://127.0.0.(10+K):APP_PORT.
"""
import concurrent.futures
import json
import os
import sys
import time
import urllib.request
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

FILES = (".env.local", ".env.production", ".env")
KEY = b"NEXT_PUBLIC_USE_BACKEND_API="


def srv(fleet, k):
    return os.path.join(fleet, "hosts", f"host-{k}", "srv")


def health(port, k):
    url = f"http://127.0.0.{10 + k}:{port}/api/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError):
        return None


def set_flag(path, value):
    with open(path, "rb") as f:
        data = f.read()
    other = b"false" if value == b"true" else b"true"
    new = data.replace(KEY + other, KEY + value)
    if new != data:
        tmp = path + ".bench-tmp"
        with open(tmp, "wb") as f:
            f.write(new)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)


def reset_host(fleet, port, k):
    for name in FILES:
        set_flag(os.path.join(srv(fleet, k), "app", name), b"true")
    sock = os.path.join(srv(fleet, k), "run", "supervisor.sock")
    proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, "unix://" + sock))
    state = proxy.supervisor.getProcessInfo("frontend")["statename"]
    if state in ("RUNNING", "STARTING"):
        proxy.supervisor.stopProcess("frontend", True)
    proxy.supervisor.startProcess("frontend", True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = health(port, k)
        if answer and answer.get("backend_api") == "true":
            return answer.get("pid")
        time.sleep(0.05)
    raise RuntimeError(f"host-{k}: the frontend did not come back serving the flag as true")


def check_host(fleet, port, k, pids):
    problems = []
    for name in FILES:
        with open(os.path.join(srv(fleet, k), "app", name), "rb") as f:
            lines = f.read().splitlines()
        values = [line[len(KEY):].rstrip(b"\r") for line in lines if line.startswith(KEY)]
        if values != [b"false"]:
            problems.append(f"host-{k}: {name} has {KEY.decode()}{b','.join(values).decode()}")
    answer = health(port, k)
    if not answer or answer.get("backend_api") != "false":
        problems.append(f"host-{k}: /api/health answers {answer}, not \"backend_api\":\"false\"")
    elif str(answer.get("pid")) == pids.get(str(k)):
        problems.append(f"host-{k}: the frontend was not restarted (pid {answer.get('pid')})")
    return problems


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    command, fleet, count, port = sys.argv[1:5]
    hosts = range(1, int(count) + 1)
    workers = min(32, int(count))
    pid_file = os.path.join(fleet, "bench-pids")
    if command == "reset":
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            pids = list(pool.map(lambda k: reset_host(fleet, port, k), hosts))
        with open(pid_file, "w", encoding="utf-8") as f:
            json.dump({str(k): str(pid) for k, pid in zip(hosts, pids)}, f)
    elif command == "check":
        name = sys.argv[5] if len(sys.argv) > 5 else "the contender"
        with open(pid_file, encoding="utf-8") as f:
            pids = json.load(f)
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            problems = [p for found in pool.map(lambda k: check_host(fleet, port, k, pids), hosts) for p in found]
        if problems:
            print(f"bench: {name} did not roll back every host:", file=sys.stderr)
            for problem in problems[:20]:
                print(f"  {problem}", file=sys.stderr)
            sys.exit(1)
    elif command == "connections":
        counts = []
        for k in hosts:
            try:
                with open(os.path.join(fleet, "hosts", f"host-{k}", "sshd.log"), encoding="utf-8", errors="replace") as f:
                    counts.append(sum(1 for line in f if "Accepted publickey" in line))
            except OSError:
                counts.append(0)
        print(" ".join(str(c) for c in counts))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
