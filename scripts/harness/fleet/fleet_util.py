#!/usr/bin/env python3
"""Helpers for the fleet harness scripts (stdlib only, loopback only).

  fleet_util.py ports COUNT ADDR...       print COUNT distinct ports free on every ADDR
  fleet_util.py wait TIMEOUT SPEC...      poll until every SPEC is ready; SPEC is
                                          ssh:ADDR:PORT (an SSH banner) or an http:// URL
                                          (status 200); on timeout print the ones not
                                          ready and exit 1
  fleet_util.py stop DIR                  SIGTERM every host's sshd, supervisord and app
                                          (pids from their files, checked against their
                                          command lines), wait up to 2 s, then sweep
  fleet_util.py sweep DIR [MNTNS...]      SIGKILL every process in one of the mount
                                          namespaces MNTNS (never ours or init's), and
                                          every sshd, supervisord, python or host starter
                                          naming DIR/;
                                          repeat until none is left (at most 5 s)
"""

import ipaddress
import os
import random
import socket
import sys
import time
import urllib.error
import urllib.request


def loopback(addr):
    if not ipaddress.ip_address(addr).is_loopback:
        raise SystemExit(f"fleet_util: {addr} is not a loopback address")
    return addr


def free_on_all(port, addrs):
    sockets = []
    try:
        for addr in addrs:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((addr, port))
        return True
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()


def ports(count, addrs):
    """Random ports in 20000-32767 (below the kernel's default ephemeral range, so an
    outgoing connection never takes one meanwhile), each free on every address."""
    for addr in addrs:
        loopback(addr)
    chosen = []
    rng = random.SystemRandom()
    for _ in range(2000):
        port = rng.randrange(20000, 32768)
        if port not in chosen and free_on_all(port, addrs):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise SystemExit("fleet_util: no free port found on every address")


def ssh_ready(addr, port):
    try:
        with socket.create_connection((loopback(addr), port), timeout=1.0) as sock:
            sock.settimeout(1.0)
            return sock.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def http_ready(url):
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def ready(spec):
    if spec.startswith("ssh:"):
        _, addr, port = spec.split(":")
        return ssh_ready(addr, int(port))
    return http_ready(spec)


def wait(timeout, specs):
    deadline = time.monotonic() + timeout
    pending = list(specs)
    while True:
        pending = [spec for spec in pending if not ready(spec)]
        if not pending:
            return 0
        if time.monotonic() >= deadline:
            for spec in pending:
                print(f"not ready: {spec}")
            return 1
        time.sleep(0.05)


def alive(pid):
    """True unless PID is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def ours(pid, directory, namespaces):
    try:
        if os.readlink(f"/proc/{pid}/ns/mnt") in namespaces:
            return True
        with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
            comm = handle.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
        if (directory.rstrip("/") + "/").encode() not in cmdline:
            return False
        # A host's starter (`sh -c … fleet-host DIR/hosts/host-K …`) before it execs sshd.
        if b"\0fleet-host\0" in cmdline:
            return True
        return comm in ("sshd", "supervisord", "python") or comm.startswith("python3")
    except OSError:
        return False


def sweep(directory, namespaces):
    namespaces = set(namespaces)
    for pid in ("self", "1"):
        try:
            namespaces.discard(os.readlink(f"/proc/{pid}/ns/mnt"))
        except OSError:
            pass
    me = os.getpid()
    killed = 0
    deadline = time.monotonic() + 5
    while True:
        found = [
            int(name)
            for name in os.listdir("/proc")
            if name.isdigit() and int(name) != me and alive(name)
            and ours(name, directory, namespaces)
        ]
        if not found:
            return killed
        if time.monotonic() >= deadline:
            raise SystemExit(f"fleet_util: still running after SIGKILL: {found}")
        for pid in found:
            try:
                os.kill(pid, 9)
                killed += 1
            except OSError:
                pass
        time.sleep(0.05)


def read_text(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def cmdline_has(pid, needle):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return needle.encode() in handle.read()
    except OSError:
        return False


def stop(directory):
    """TERM the hosts' daemons, give them 2 s, then sweep their namespaces."""
    hosts_dir = os.path.join(directory, "hosts")
    try:
        hosts = [os.path.join(hosts_dir, name) for name in sorted(os.listdir(hosts_dir))]
    except OSError:
        hosts = []
    namespaces = []
    termed = []
    for host in hosts:
        namespace = read_text(os.path.join(host, "mntns"))
        if namespace:
            namespaces.append(namespace)
        for pidfile, needle in (
            ("sshd.pid", host + "/sshd_config"),
            ("srv/run/supervisord.pid", host + "/srv/supervisord.conf"),
            ("srv/run/frontend.pid", host),
        ):
            text = read_text(os.path.join(host, pidfile))
            if not text.isdigit() or not alive(text) or not cmdline_has(text, needle):
                continue
            try:
                os.kill(int(text), 15)
                termed.append(text)
            except OSError:
                pass
    # supervisord exits on its next tick (about 1 s); the rest get SIGKILL.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(alive(pid) for pid in termed):
        time.sleep(0.05)
    return sweep(directory, namespaces)


def main(argv):
    if len(argv) >= 3 and argv[1] == "ports":
        print(" ".join(str(port) for port in ports(int(argv[2]), argv[3:] or ["127.0.0.1"])))
        return 0
    if len(argv) >= 3 and argv[1] == "wait":
        return wait(float(argv[2]), argv[3:])
    if len(argv) >= 3 and argv[1] in ("sweep", "stop"):
        killed = sweep(argv[2], argv[3:]) if argv[1] == "sweep" else stop(argv[2])
        if killed:
            print(f"killed {killed} leftover processes")
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
