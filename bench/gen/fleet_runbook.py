#!/usr/bin/python3
"""The fleet benchmark's runbook for N test hosts, for bench/fleet.sh.

Usage: fleet_runbook.py N SSH_CONFIG APP_PORT

Prints bench/runbooks/fleet.yaml with its `hosts` and `groups` written out for host-1 …
host-N of the test fleet (scripts/harness/fleet/up: host-K is the ssh alias host-K of
SSH_CONFIG, its app listens on 127.0.0.(10+K):APP_PORT), its `ssh.config` set to
SSH_CONFIG, its `forks` to N (every host of a batch at once, as the other contenders) and
its app port to APP_PORT. Only loopback addresses.
"""
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: fleet_runbook.py N SSH_CONFIG APP_PORT")
    count, config, port = sys.argv[1], sys.argv[2], sys.argv[3]
    if not count.isdigit() or not 1 <= int(count) <= 200:
        sys.exit(f"fleet_runbook.py: N must be 1..200, got {count!r}")
    if not port.isdigit():
        sys.exit(f"fleet_runbook.py: APP_PORT must be a number, got {port!r}")
    if not config.startswith("/") or any(c in config for c in "\"\\\n"):
        sys.exit(f"fleet_runbook.py: SSH_CONFIG must be a plain absolute path, got {config!r}")
    n = int(count)
    template_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runbooks", "fleet.yaml")
    with open(template_path, encoding="utf-8") as f:
        template = f.read()
    hosts = "\n".join(f"      web-{k}: {{ssh: host-{k}, address: 127.0.0.{10 + k}}}" for k in range(1, n + 1))
    group = ", ".join(f"web-{k}" for k in range(1, n + 1))
    replacements = {
        "      web-1: {ssh: host-1, address: 127.0.0.11}\n": hosts + "\n",
        "      web: [web-1]\n": f"      web: [{group}]\n",
        "      config: /tmp/rollback-fleet.example/ssh_config\n": f'      config: "{config}"\n',
        "      forks: 1\n": f"      forks: {n}\n",
        "      app_port: \"3000\"\n": f'      app_port: "{port}"\n',
    }
    for old, new in replacements.items():
        if template.count(old) != 1:
            sys.exit(f"fleet_runbook.py: {template_path} no longer has exactly one line {old.strip()!r}")
        template = template.replace(old, new)
    template = template.replace("(the template for 1 host)", f"(generated for {n} hosts)")
    sys.stdout.write(template)


if __name__ == "__main__":
    main()
