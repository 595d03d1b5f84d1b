#!/usr/bin/env python3
"""Item 1, crash safety: SIGKILL `rollback flag disable`/`enable` at random moments.

A 50 000-line .env holds the flag. Each round starts the change that flips it and
kills the process with SIGKILL after a random delay drawn from 0 to 115 % of the time
an uninterrupted change takes (so kills land before, during and after every phase:
start-up, read, backup, temporary file, rename, directory sync). After each kill:
  - the .env is byte for byte the old or the new content (never empty, torn, missing),
    with its mode kept;
  - every backup file that exists is byte for byte a previous content;
  - a stray temporary file left beside the .env is removed by the next run of
    `rollback flag` (it is run to completion right then, and must succeed).
Usage: crash_safety.py [KILLS]   (default $RELIABILITY_CRASH_KILLS or 1000)
"""

import os
import random
import shutil
import sys
import threading
import time

from common import Results, binary, log, read_bytes, rollback, spawn, temp_dir

MARKER = ".rollback-tmp-"
LINES = 50_000
KEY = "FEATURE_FLAG"


def make_env(rng):
    lines = ["# 50 000-line dotenv for the crash-safety test", "export NODE_ENV=production"]
    for index in range(LINES - 2):
        kind = index % 10
        if index == LINES // 2:
            lines.append(f"{KEY}=true")
        elif kind == 0:
            lines.append(f"# section {index}")
        elif kind == 3:
            lines.append(f"QUOTED_{index}=\"value with spaces {rng.randrange(10**9)}\"")
        elif kind == 5:
            lines.append(f"SINGLE_{index}='single {rng.randrange(10**9)}' # comment")
        else:
            lines.append(f"KEY_{index:05d}=v{rng.randrange(10**12)}")
    text = "\n".join(lines) + "\n"
    assert text.count("\n") == LINES
    on = text.encode()
    off = on.replace(f"\n{KEY}=true\n".encode(), f"\n{KEY}=false\n".encode())
    assert on != off and len(on) + 1 == len(off)
    return on, off


PHASES = ["before any write", "while writing the backup", "backup written, before the new file",
          "while writing the new file", "after the rename", "finished before the kill"]


class Worker:
    """One directory with its own .env, runbook and state; kills run there one after another."""

    def __init__(self, base, on, off, rng):
        self.rng = rng
        self.on, self.off = on, off
        self.contents = {on, off}
        self.app = os.path.join(base, "app")
        self.state = os.path.join(base, "state")
        self.backups_root = os.path.join(self.state, "backups")
        os.makedirs(self.app)
        self.env_path = os.path.join(self.app, ".env")
        runbook = os.path.join(base, "rollback.yaml")
        with open(runbook, "w", encoding="utf-8") as handle:
            handle.write(
                "version: 1\nname: crash\nenvironments: {local: {}}\n"
                f"flags:\n  f: {{key: {KEY}, files: [\"{self.env_path}\"], enabled: \"true\", disabled: \"false\"}}\n"
                "levels:\n  1:\n    steps:\n      - {id: off, flag: {name: f, set: disabled}}\n")
        with open(self.env_path, "wb") as handle:
            handle.write(on)
        os.chmod(self.env_path, 0o640)
        self.common = ["--runbook", runbook, "--state-dir", self.state]
        self.base = base
        self.error = None
        self.phases = dict.fromkeys(PHASES, 0)
        self.bad_content, self.bad_backups, self.bad_mode, self.clean_failures = [], [], [], []
        self.backups_checked = self.strays_left = self.strays_cleaned = self.backup_temps = 0

    def action_for(self, current):
        return "disable" if current == self.on else "enable"

    def start_and_wait_for_backup_dir(self, current):
        """Starts a change; returns it once STATE/backups appears (its first write) or it ends."""
        process = spawn(["flag", self.action_for(current)] + self.common)
        while not os.path.isdir(self.backups_root) and process.poll() is None:
            time.sleep(0.0002)
        return process

    def calibrate(self, rounds=8):
        """How long an uninterrupted change takes, and how long from its first write to its end."""
        self.durations, self.windows = [], []
        for _ in range(rounds):
            status, _out, err, seconds = rollback(["flag", self.action_for(read_bytes(self.env_path))] + self.common)
            if status != 0:
                self.error = f"an uninterrupted change failed ({status}): {err.strip()[-300:]}"
                return
            self.durations.append(seconds)
            shutil.rmtree(self.backups_root, ignore_errors=True)
            process = self.start_and_wait_for_backup_dir(read_bytes(self.env_path))
            first_write = time.monotonic()
            process.wait()
            self.windows.append(time.monotonic() - first_write)
            shutil.rmtree(self.backups_root, ignore_errors=True)

    def kill_rounds(self, survey, focused, full, window):
        current = read_bytes(self.env_path)
        for round_number in range(survey + focused):
            if round_number < survey:
                delay = self.rng.uniform(0, full * 1.15)
                process = spawn(["flag", self.action_for(current)] + self.common)
            else:
                delay = self.rng.uniform(0, window * 1.1)
                process = self.start_and_wait_for_backup_dir(current)
            time.sleep(delay)
            process.kill()
            process.wait()
            current = self.check(round_number, current, process.returncode == 0, delay)

    def check(self, round_number, current, finished, delay):
        try:
            after = read_bytes(self.env_path)
        except FileNotFoundError:
            after = None
        if after not in self.contents:
            self.bad_content.append((round_number, round(delay, 4), None if after is None else len(after)))
            if after is not None:
                with open(os.path.join(self.base, f"torn-{round_number}.env"), "wb") as handle:
                    handle.write(after)
            with open(self.env_path, "wb") as handle:   # a known content, so the rounds go on
                handle.write(current)
            after = current
        if os.stat(self.env_path).st_mode & 0o7777 != 0o640:
            self.bad_mode.append(round_number)
        strays = [name for name in os.listdir(self.app) if MARKER in name]
        backup_files, backup_partials = [], []
        for top, _dirs, names in os.walk(self.backups_root):
            for name in names:
                path = os.path.join(top, name)
                (backup_partials if name.startswith(".") and MARKER in name else backup_files).append(path)
        for path in backup_files:
            self.backups_checked += 1
            if read_bytes(path) not in self.contents:
                self.bad_backups.append((round_number, path))
        self.backup_temps += len(backup_partials)
        if finished:
            phase = "finished before the kill"
        elif after != current:
            phase = "after the rename"
        elif strays:
            phase = "while writing the new file"
        elif backup_files:
            phase = "backup written, before the new file"
        elif backup_partials:
            phase = "while writing the backup"
        else:
            phase = "before any write"
        self.phases[phase] += 1
        shutil.rmtree(self.backups_root, ignore_errors=True)
        if strays:
            # The next run must remove them (and work).
            self.strays_left += len(strays)
            status, _out, err, _s = rollback(["flag", self.action_for(after)] + self.common)
            remaining = [name for name in os.listdir(self.app) if MARKER in name]
            now = read_bytes(self.env_path)
            if status != 0 or remaining or now == after or now not in self.contents:
                self.clean_failures.append(
                    (round_number, status, [describe_stray(self.app, name) for name in remaining],
                     err.strip()[-200:]))
            else:
                self.strays_cleaned += len(strays)
            after = now
            shutil.rmtree(self.backups_root, ignore_errors=True)
        return after


def describe_stray(directory, name):
    """A stray temporary file left after the next run, with what decides its removal."""
    path = os.path.join(directory, name)
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"{name} (gone: {error.strerror})"
    try:
        proof = os.getxattr(path, "user.rollback.temporary").decode(errors="replace")
    except OSError as error:
        proof = f"none ({error.strerror})"
    pid = name.split(MARKER, 1)[1].split("-", 1)[0]
    alive = pid.isdigit() and os.path.exists(f"/proc/{pid}")
    return (f"{name} (inode {info.st_ino}, proof {proof}, uid {info.st_uid}, links {info.st_nlink}, "
            f"pid {pid} {'alive' if alive else 'gone'}, mtime age {time.time() - info.st_mtime:.0f}s)")


def in_parallel(workers, method, *args):
    threads = [threading.Thread(target=getattr(worker, method), args=args) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main():
    kills = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("RELIABILITY_CRASH_KILLS", "1000"))
    parallel = max(1, int(os.environ.get("RELIABILITY_CRASH_WORKERS", str(min(2, os.cpu_count() or 1)))))
    seed = int(os.environ.get("RELIABILITY_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    results = Results("1 crash safety")
    base = temp_dir("crash")
    on, off = make_env(rng)
    workers = [Worker(os.path.join(base, f"w{index}"), on, off, random.Random(rng.random()))
               for index in range(parallel)]
    log(f"crash safety: {binary()}, {LINES}-line .env ({len(on)} bytes), {kills} kills in {parallel} "
        f"directories at once, seed {seed}")
    in_parallel(workers, "calibrate")
    errors = [worker.error for worker in workers if worker.error]
    if errors:
        results.record(False, "an uninterrupted change works", errors[0])
        results.exit()
    durations = [value for worker in workers for value in worker.durations]
    windows = [value for worker in workers for value in worker.windows]
    full = max(durations)
    window = sorted(windows)[len(windows) // 2]
    log(f"  an uninterrupted change takes {min(durations) * 1000:.0f}-{full * 1000:.0f} ms, of which "
        f"{min(windows) * 1000:.1f}-{max(windows) * 1000:.1f} ms (median {window * 1000:.1f}) from its first "
        f"write (backup) to its end")
    # A fifth of the kills (at least 100) come at a random moment of the whole life of the
    # process, from its start; the others at a random moment of the write itself: from the
    # moment its first write (the backup directory) appears to 110 % of the median write
    # (kills after the end of a write are wasted: the survey covers slow runs).
    survey = max(1, min(kills, max(100, kills // 5)))
    started = time.monotonic()
    in_parallel(workers, "kill_rounds", -(-survey // parallel), -(-(kills - survey) // parallel), full, window)
    elapsed = time.monotonic() - started
    total = sum(sum(worker.phases.values()) for worker in workers)
    phases = {name: sum(worker.phases[name] for worker in workers) for name in PHASES}
    bad_content = [bad for worker in workers for bad in worker.bad_content]
    bad_backups = [bad for worker in workers for bad in worker.bad_backups]
    bad_mode = [bad for worker in workers for bad in worker.bad_mode]
    clean_failures = [bad for worker in workers for bad in worker.clean_failures]
    backups_checked = sum(worker.backups_checked for worker in workers)
    backup_temps = sum(worker.backup_temps for worker in workers)
    strays_left = sum(worker.strays_left for worker in workers)
    strays_cleaned = sum(worker.strays_cleaned for worker in workers)
    log("  where the kills landed: " + ", ".join(f"{name} {count}" for name, count in phases.items()))

    results.record(
        not bad_content and total >= kills,
        f"after {total} SIGKILLs the .env is always byte-for-byte the old or the new content",
        f"{total} kills on a {LINES}-line .env in {elapsed:.0f}s ({survey} at 0-{full * 1150:.0f} ms after start, "
        f"{total - survey} at 0-{window * 1100:.1f} ms after the first write): {total - len(bad_content)} old-or-new, "
        f"{len(bad_content)} torn/empty/missing; kills landed: "
        + ", ".join(f"{count} {name}" for name, count in phases.items())
        + (f"; bad rounds {bad_content[:5]}" if bad_content else ""))
    results.record(not bad_mode, "the file mode (0640) survives every kill",
                   f"{len(bad_mode)} rounds changed it" if bad_mode else "kept in every round")
    results.record(
        not bad_backups and backups_checked > 0,
        "every backup file that exists is a complete previous content",
        f"{backups_checked} backup files compared, {len(bad_backups)} incomplete; "
        f"{backup_temps} partial backups were left only as hidden temporary files"
        + (f"; bad {bad_backups[:3]}" if bad_backups else ""))
    results.record(
        not clean_failures and strays_left > 0,
        "stray temporary files left by a kill are removed by the next `rollback flag` run",
        f"{strays_left} stray temp files left beside the .env by kills, {strays_cleaned} removed by the next run"
        + (f"; failures {clean_failures[:3]}" if clean_failures else ""))
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base} for inspection")
    results.exit()


if __name__ == "__main__":
    main()
