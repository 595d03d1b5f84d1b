#!/usr/bin/env python3
"""Fleet faults: a rolling level 3 over a 3-host test fleet (scripts/harness/fleet) with faults.

Starts its own fleet with scripts/harness/fleet/with-fleet (always torn down, even when this
script is killed: with-fleet outlives it and tears down when its command ends), then, with
every random choice drawn from RELIABILITY_SEED:

  - a clean rolling level 3 (batches [1, "100%"]: flag off in two files, restart with health,
    a settle step) as the reference: every host flipped byte for byte, restarted once;
  - RELIABILITY_FLEET_KILLS (2) rounds of SIGKILL of rollback at a random moment of the run,
    then `rollback resume RUN_ID`: every host ends with the flag off in all its files, byte
    for byte apart from the flag, and its service restarted exactly once (supervisord's log);
  - a host's sshd stopped (before the run, or just after that host's flag write or restart):
    exit 1 naming the host (unreachable before any change, or failed); every other host
    finished or untouched as the contract says; no host half-written (both files old or both
    new, no stray file);
  - a host's sshd frozen (SIGSTOP: connects, never answers), before the run or during the
    host's settle step: the run ends within its timeouts, exit 1, the host named; no hang.

Finally: nothing of the fleet or of rollback's ssh control directories is left in /tmp.
"""

import fcntl
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

from common import ROOT, Results, binary, log, temp_dir

FLEET = os.path.join(ROOT, "scripts", "harness", "fleet")
HOSTS = 3
KILLS = int(os.environ.get("RELIABILITY_FLEET_KILLS", "2"))
KEY = "NEXT_PUBLIC_USE_BACKEND_API"
FILES = [".env.local", ".env"]
# A run that takes longer than this has hung (the frozen host's steps time out after 4 s, its
# master and lock give up within their own timeouts).
HANG_LIMIT = 60


class Fleet:
    """The running test fleet, from the ROLLBACK_FLEET_* variables with-fleet exports."""

    def __init__(self):
        self.dir = os.environ["ROLLBACK_FLEET_DIR"]
        self.hosts = os.environ["ROLLBACK_FLEET_HOSTS"].split()
        self.ctl_path = os.environ["ROLLBACK_FLEET_CTL"]

    def app(self, host):
        return os.path.join(self.dir, "hosts", host, "srv", "app")

    def files(self, host):
        return {name: read(os.path.join(self.app(host), name)) for name in FILES}

    def listing(self, host):
        return sorted(os.listdir(self.app(host)))

    def spawns(self, host):
        text = read(os.path.join(self.dir, "hosts", host, "srv", "logs", "supervisord.log")).decode("utf-8", "replace")
        return text.count("spawned: 'frontend'")

    def ctl(self, command, host):
        return subprocess.run([self.ctl_path, command, host], capture_output=True, timeout=30).returncode

    def sshd_pids(self, host):
        """The sshd processes (listener and sessions) of a host: those in its mount namespace.
        Read here rather than with `ctl`, which takes seconds on a busy machine: the fault must land
        while the host is still in its pipeline."""
        with open(os.path.join(self.dir, "hosts", host, "mntns"), encoding="utf-8") as handle:
            namespace = handle.read().strip()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if os.readlink(f"/proc/{entry}/ns/mnt") != namespace:
                    continue
                with open(f"/proc/{entry}/comm", encoding="utf-8") as handle:
                    if handle.read().strip() in ("sshd", "sshd-session"):
                        pids.append(int(entry))
            except OSError:
                continue
        return pids

    def fault(self, host, kind):
        """Stops (TERM, then KILL) or freezes (STOP) a host's sshd and its sessions, at once."""
        pids = self.sshd_pids(host)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP if kind == "freeze" else signal.SIGTERM)
            except OSError:
                pass
        if kind == "stop":
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids):
                time.sleep(0.05)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            pidfile = os.path.join(self.dir, "hosts", host, "sshd.pid")
            if os.path.exists(pidfile):
                os.remove(pidfile)
        return len(pids)

    def flag_on(self):
        for host in self.hosts:
            for name in FILES:
                path = os.path.join(self.app(host), name)
                write(path, read(path).replace(f"{KEY}=false".encode(), f"{KEY}=true".encode()))
            lock = os.path.join(self.dir, "hosts", host, "srv", "run", "rollback-fleet.lock")
            if os.path.exists(lock):
                os.remove(lock)

    def runbook(self):
        port = os.environ["ROLLBACK_FLEET_APP_PORT"]
        hosts = "\n".join(f"      {name}: {{ssh: {name}, address: {os.environ[f'ROLLBACK_FLEET_HOST_{k + 1}_ADDR']}}}"
                          for k, name in enumerate(self.hosts))
        return f"""version: 1
name: fleet-faults
environments:
  production:
    ssh:
      config: {os.environ['ROLLBACK_FLEET_SSH_CONFIG']}
      options: ["-o", "ConnectTimeout=3"]
      lock_dir: /srv/rollback-fleet/run
      forks: {HOSTS}
    hosts:
{hosts}
    groups:
      web: [{', '.join(self.hosts)}]
services:
  frontend:
    hosts: web
    restart: [supervisorctl, -c, /srv/rollback-fleet/supervisord.conf, restart, frontend]
    health: {{http: {{url: "http://${{host.address}}:{port}/api/health"}}, within: 10s}}
    timeout: 10s
flags:
  backend-api:
    key: {KEY}
    files: ["/srv/rollback-fleet/app/.env.local", "/srv/rollback-fleet/app/.env"]
    service: frontend
levels:
  3:
    name: Frontend off the backend API
    steps:
      - id: roll
        rolling:
          on: web
          batches: [1, "100%"]
          max_fail: 0
          steps:
            - flag: {{name: backend-api, set: disabled}}
            - restart: {{service: frontend}}
            - {{id: settle, run: [sleep, "2"], timeout: 4s}}
"""


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)


def flipped(files):
    return {name: data.replace(f"{KEY}=true".encode(), f"{KEY}=false".encode()) for name, data in files.items()}


class Scenario:
    """One working directory (runbook, state) and the fleet's state before a run."""

    def __init__(self, fleet, base, tag):
        self.fleet = fleet
        self.dir = os.path.join(base, tag)
        os.makedirs(self.dir)
        self.runbook = os.path.join(self.dir, "rollback.yaml")
        write(self.runbook, fleet.runbook().encode())
        fleet.flag_on()
        self.before = {host: fleet.files(host) for host in fleet.hosts}
        self.listings = {host: fleet.listing(host) for host in fleet.hosts}
        self.spawns = {host: fleet.spawns(host) for host in fleet.hosts}

    def argv(self, *words):
        return [binary()] + list(words) + ["--runbook", self.runbook, "--state-dir", os.path.join(self.dir, "state")]

    def start(self):
        return subprocess.Popen(self.argv("execute", "--level", "3", "--yes"), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=dict(os.environ, NO_COLOR="1"))

    def run_id(self):
        runs = os.path.join(self.dir, "state", "runs")
        names = [name[:-len(".jsonl")] for name in os.listdir(runs) if name.endswith(".jsonl")] if os.path.isdir(runs) else []
        return names[0] if len(names) == 1 else None

    def host_state(self, host):
        """"old", "new" or a description of a half-written or otherwise wrong host."""
        now = self.fleet.files(host)
        if self.fleet.listing(host) != self.listings[host]:
            return f"{host}: stray files {sorted(set(self.fleet.listing(host)) - set(self.listings[host]))}"
        if now == self.before[host]:
            return "old"
        if now == flipped(self.before[host]):
            return "new"
        return f"{host}: half-written or wrong bytes: {now!r}"

    def restarts(self, host):
        return self.fleet.spawns(host) - self.spawns[host]

    def restarts_in_flight(self, run_id):
        """Hosts whose flag step the killed run's journal shows finished and whose restart step it
        does not: the kill may have interrupted that restart, which resume then repeats (README,
        Reliability: exactly-once holds at step boundaries; a host's steps are journalled as they
        finish)."""
        flagged, restarted = set(), set()
        with open(os.path.join(self.dir, "state", "runs", run_id + ".jsonl"), encoding="utf-8") as handle:
            for line in handle:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == "step-finished" and event.get("status") == "succeeded":
                    if event.get("kind") == "flag":
                        flagged.add(event.get("host"))
                    elif event.get("kind") == "restart":
                        restarted.add(event.get("host"))
        return flagged - restarted


def why(out):
    """The lines of rollback's output that say what failed, and its last words."""
    failing = [line.strip() for line in out.splitlines() if "✗" in line or "error" in line.lower()]
    return " | ".join(failing[:4]) + " … " + out.strip()[-200:]


def finish(process, limit=HANG_LIMIT):
    started = time.monotonic()
    try:
        out, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        return None, out.decode("utf-8", "replace"), time.monotonic() - started
    return process.returncode, out.decode("utf-8", "replace"), time.monotonic() - started


def wait_for(predicate, limit=30):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def clean_run(results, fleet, base):
    scenario = Scenario(fleet, base, "clean")
    started = time.monotonic()
    status, out, _ = finish(scenario.start())
    seconds = time.monotonic() - started
    states = [scenario.host_state(host) for host in fleet.hosts]
    restarts = [scenario.restarts(host) for host in fleet.hosts]
    ok = status == 0 and states == ["new"] * HOSTS and restarts == [1] * HOSTS
    results.record(ok, f"a clean rolling level 3 over {HOSTS} hosts (the reference)",
                   f"exit {status} in {seconds:.1f}s; hosts {states}; restarts {restarts}"
                   + ("" if ok else f"; output: {why(out)}"))


def kill_and_resume(results, fleet, base, rng):
    good = repeated = 0
    problems = []
    moments = []
    for round_number in range(KILLS):
        scenario = Scenario(fleet, base, f"kill-{round_number}")
        host = rng.choice(fleet.hosts)
        event = rng.choice(["flag write", "restart"])
        delay = rng.uniform(0, 1.5)
        moment = f"{delay:.1f}s after {host}'s {event}"
        moments.append(moment)
        process = scenario.start()
        written = flipped(scenario.before[host])
        if event == "flag write":
            wait_for(lambda: fleet.files(host) == written)
        else:
            wait_for(lambda: scenario.restarts(host) >= 1)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        finish(process)
        run_id = scenario.run_id()
        if run_id is None:
            problems.append(f"round {round_number}: no journal after the kill {moment}")
            continue
        in_flight = scenario.restarts_in_flight(run_id)
        status, out, _ = finish(subprocess.Popen(
            scenario.argv("resume", run_id, "--yes"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=dict(os.environ, NO_COLOR="1")))
        states = [scenario.host_state(host) for host in fleet.hosts]
        restarts = [scenario.restarts(host) for host in fleet.hosts]
        allowed = [(1, 2) if host in in_flight else (1,) for host in fleet.hosts]
        repeated += sum(1 for count in restarts if count == 2)
        if status == 0 and states == ["new"] * HOSTS and all(n in ok for n, ok in zip(restarts, allowed)):
            good += 1
        else:
            problems.append(f"round {round_number} (kill {moment}): resume exit {status}, hosts {states}, "
                            f"restarts {restarts}; {why(out)}")
    results.record(good == KILLS, f"{KILLS} SIGKILLs of rollback at a random moment of a rolling level 3, "
                   "then resume: every host flipped byte for byte and restarted exactly once (twice only when "
                   "the kill interrupted its restart)",
                   f"{good} of {KILLS} rounds right (kills {'; '.join(moments)}); {repeated} restarts repeated, each one the "
                   "kill interrupted"
                   + (f"; {problems[0]}" if problems else ""))


def sshd_fault(results, fleet, base, rng, fault):
    """A host's sshd stopped or frozen, before the run or mid-pipeline."""
    scenario = Scenario(fleet, base, fault)
    victim = rng.choice(fleet.hosts[1:])
    moments = ["before the run", "after its flag write", "after its restart"]
    if fault == "freeze":
        # After the restart the host runs its settle step (2 s, timeout 4 s): that session hangs.
        moments = ["before the run", "after its restart"]
    moment = rng.choice(moments)
    undo = "start-sshd" if fault == "stop" else "thaw-sshd"
    started = time.monotonic()
    try:
        if moment == "before the run":
            fleet.fault(victim, fault)
        process = scenario.start()
        if moment != "before the run":
            written = flipped(scenario.before[victim])
            if moment == "after its flag write":
                wait_for(lambda: fleet.files(victim) == written)
            else:
                wait_for(lambda: scenario.restarts(victim) >= 1)
            time.sleep(rng.uniform(0, 0.5))
            fleet.fault(victim, fault)
        status, out, _ = finish(process)
    finally:
        fleet.ctl(undo, victim)
    seconds = time.monotonic() - started
    states = {host: scenario.host_state(host) for host in fleet.hosts}
    problems = [state for state in states.values() if state not in ("old", "new")]
    if status != 1:
        problems.append(f"exit {status} (wanted 1)")
    if victim not in out:
        problems.append(f"the output does not name {victim}")
    # An unreachable host is a failed host: batch 1 (host-1) has finished before the victim's
    # batch; the victim's batch mate, already running, finishes; no later batch exists.
    if states[fleet.hosts[0]] != "new":
        problems.append(f"{fleet.hosts[0]} (batch 1) did not finish")
    if moment == "before the run" and states[victim] != "old":
        problems.append(f"{victim} was changed although it could not be reached")
    if fault == "freeze" and seconds > HANG_LIMIT - 5:
        problems.append(f"took {seconds:.0f}s")
    what = "stopped (unreachable)" if fault == "stop" else "frozen (SIGSTOP: connects, never answers)"
    results.record(not problems, f"a host's sshd {what} {moment}: exit 1 naming it, no host half-written",
                   f"{victim} {moment}: exit {status} in {seconds:.1f}s; hosts "
                   + ", ".join(f"{host} {state if state in ('old', 'new') else 'WRONG'}" for host, state in states.items())
                   + (f"; {'; '.join(problems)}; output: {why(out)}" if problems else ""))


def inner():
    results = Results("fleet faults")
    write(os.environ["RELIABILITY_FLEET_MARK"], os.environ["ROLLBACK_FLEET_DIR"].encode())
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "1")))
    fleet = Fleet()
    base = temp_dir("fleet")
    try:
        clean_run(results, fleet, base)
        kill_and_resume(results, fleet, base, rng)
        sshd_fault(results, fleet, base, rng, "stop")
        sshd_fault(results, fleet, base, rng, "freeze")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    results.exit()


def ours_in_tmp():
    names = set()
    for name in os.listdir("/tmp"):
        path = os.path.join("/tmp", name)
        if name.startswith("rollback-fleet.") or (re.fullmatch(r"rb-[A-Za-z0-9]{6}", name)
                                                 and os.path.isdir(path) and os.stat(path).st_uid == os.geteuid()):
            names.add(name)
    return names


def stale_control_directory(name):
    """True for an ssh control directory whose run is over: its lock file is held by nobody."""
    try:
        descriptor = os.open(os.path.join("/tmp", name, "lock"), os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)


def main():
    if os.environ.get("RELIABILITY_FLEET_INNER") == "1":
        inner()
        return
    results = Results("fleet faults")
    if os.geteuid() != 0:
        results.record(False, "fleet faults", "the test fleet needs root (mount namespaces, sshd)")
        results.exit()
    log(f"fleet faults: {binary()}, a {HOSTS}-host test fleet, seed {os.environ.get('RELIABILITY_SEED', '1')}")
    before = ours_in_tmp()
    started = time.monotonic()
    work = temp_dir("fleet-mark")
    mark = os.path.join(work, "inner-started")
    env = dict(os.environ, RELIABILITY_FLEET_INNER="1", RELIABILITY_FLEET_MARK=mark)
    env.pop("ROLLBACK_FLEET_DIR", None)
    status = subprocess.run([os.path.join(FLEET, "with-fleet"), "-n", str(HOSTS), "--", sys.executable,
                             os.path.abspath(__file__)], env=env, stdin=subprocess.DEVNULL).returncode
    inner_ran = os.path.exists(mark)
    fleet_dir = read(mark).decode() if inner_ran else ""
    shutil.rmtree(work, ignore_errors=True)
    # A run killed outright (or ended while a frozen host's master hung) leaves its control
    # directory for the next fleet run's sweep; there is none after the last scenario, so the
    # same sweep happens here: only directories whose lock nobody holds.
    # Every rollback process of this check has ended: a control directory whose lock is still
    # held belongs to another run on this machine, not to this check.
    new = sorted(ours_in_tmp() - before)
    swept = [name for name in new if name.startswith("rb-") and stale_control_directory(name)]
    for name in swept:
        shutil.rmtree(os.path.join("/tmp", name), ignore_errors=True)
    left = [name for name in swept if os.path.exists(os.path.join("/tmp", name))]
    if fleet_dir and os.path.exists(fleet_dir):
        left.append(fleet_dir)
    results.record(not left, "the fleet torn down, nothing left in /tmp (fleet directory, ssh control directories)",
                   f"{time.monotonic() - started:.0f}s with the fleet; "
                   + (f"left: {', '.join(left)}" if left else "nothing left")
                   + f"; {len(swept)} control directories of ended runs swept (as rollback's next fleet run does)")
    if status != 0 and not inner_ran:
        # The fleet did not start: no check ran.
        results.record(False, "fleet faults", f"with-fleet ended with {status}")
    sys.exit(1 if results.failed or status != 0 else 0)


if __name__ == "__main__":
    main()
