#!/usr/bin/env python3
"""Concurrent writers of one .env: no change is ever lost.

  - 100 rounds (RELIABILITY_EDIT_ROUNDS) of two `rollback flag` processes released at the same
    instant, each with its own runbook and state directory, each changing a different key of
    the same file: both must succeed and both changes must be in the file afterwards.
  - 100 rounds of one `rollback flag disable` while an outside writer (not rollback: in place,
    or by a rename like an editor) replaces the file at a random moment during the run: the
    outside writer's content is never lost; rollback either applied its change on top of it,
    was superseded by it, or refused with "changed while it was being edited; nothing written".
"""

import os
import random
import shutil
import subprocess
import threading
import time

from common import Results, binary, log, read_bytes, temp_dir

ROUNDS = int(os.environ.get("RELIABILITY_EDIT_ROUNDS", "100"))


def runbook(name, key, env_file):
    return f"""version: 1
name: {name}
environments: {{local: {{}}}}
flags:
  {name}: {{key: {key}, files: [{env_file}]}}
levels:
  1:
    steps:
      - {{flag: {{name: {name}, set: disabled}}}}
"""


def waiting_on(pid):
    try:
        with open(f"/proc/{pid}/wchan") as handle:
            return handle.read().strip().endswith(("pipe_read", "pipe_wait"))
    except OSError:
        return False


def released_together(base, commands):
    """Starts each command behind a FIFO, releases them in the same instant, waits for all."""
    fifo = os.path.join(base, "start")
    if os.path.exists(fifo):
        os.remove(fifo)
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    processes = []
    for argv, cwd in commands:
        processes.append(subprocess.Popen(
            ["sh", "-c", 'read x < "$0"; exec "$@"', fifo] + argv, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, NO_COLOR="1")))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(waiting_on(p.pid) for p in processes):
        time.sleep(0.002)
    os.close(writer)
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        outcomes.append((process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")))
    return outcomes


def two_editors(results, base):
    shared = os.path.join(base, "shared")
    os.makedirs(shared)
    env_file = os.path.join(shared, "app.env")
    dirs = []
    for name, key in (("one", "A"), ("two", "B")):
        directory = os.path.join(base, name)
        os.makedirs(directory)
        with open(os.path.join(directory, "rollback.yaml"), "w", encoding="utf-8") as handle:
            handle.write(runbook(name, key, env_file))
        dirs.append((name, directory))
    lost = failed = 0
    example = ""
    started = time.monotonic()
    for round_number in range(ROUNDS):
        enable = round_number % 2 == 1
        before, after = ("false", "true") if enable else ("true", "false")
        with open(env_file, "w", encoding="utf-8") as handle:
            handle.write(f"# shared\nA={before}\nB={before}\nOTHER=1\n")
        action = "enable" if enable else "disable"
        outcomes = released_together(base, [
            ([binary(), "flag", action, name, "--state-dir", os.path.join(directory, "state")], directory)
            for name, directory in dirs])
        text = read_bytes(env_file).decode("utf-8", "replace")
        for (status, _out, err), key in zip(outcomes, ("A", "B")):
            if status != 0:
                failed += 1
                example = example or f"round {round_number}: exit {status}: {err.strip()[:200]}"
            elif f"\n{key}={after}\n" not in text:
                lost += 1
                example = example or f"round {round_number}: {key} reported changed but the file holds {text!r}"
    seconds = time.monotonic() - started
    results.record(lost == 0 and failed == 0, f"{ROUNDS} rounds of two rollback processes (own state dirs) "
                   "changing different keys of one file at the same instant",
                   f"{2 * ROUNDS - lost - failed} of {2 * ROUNDS} changes kept, {lost} lost, {failed} failed "
                   f"in {seconds:.1f}s{'; ' + example if example else ''}")


def outside_writer(results, base):
    directory = os.path.join(base, "outside")
    os.makedirs(directory)
    env_file = os.path.join(directory, "app.env")
    with open(os.path.join(directory, "rollback.yaml"), "w", encoding="utf-8") as handle:
        handle.write(runbook("one", "A", "app.env"))
    argv = [binary(), "flag", "disable", "one", "--state-dir", os.path.join(directory, "state")]
    # How long one run takes here, so that the writer lands anywhere within it.
    durations = []
    for _ in range(5):
        with open(env_file, "w", encoding="utf-8") as handle:
            handle.write("A=true\nB=old\n")
        started = time.monotonic()
        subprocess.run(argv, cwd=directory, capture_output=True, env=dict(os.environ, NO_COLOR="1"))
        durations.append(time.monotonic() - started)
    window = sorted(durations)[len(durations) // 2]
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "1")))
    counts = {"applied on top": 0, "superseded by the writer": 0, "refused": 0}
    lost = bad = 0
    example = ""
    for round_number in range(ROUNDS):
        with open(env_file, "w", encoding="utf-8") as handle:
            handle.write("A=true\nB=old\n")
        theirs = f"A=true\nB=writer-{round_number}\n"
        in_place = round_number % 2 == 0
        delay = rng.uniform(0, window)

        def write():
            time.sleep(delay)
            if in_place:
                with open(env_file, "r+", encoding="utf-8") as handle:
                    handle.seek(0)
                    handle.write(theirs)
                    handle.truncate()
            else:
                temporary = env_file + ".editor-swp"
                with open(temporary, "w", encoding="utf-8") as handle:
                    handle.write(theirs)
                os.rename(temporary, env_file)

        writer = threading.Thread(target=write)
        process = subprocess.Popen(argv, cwd=directory, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=dict(os.environ, NO_COLOR="1"))
        writer.start()
        out, err = process.communicate(timeout=60)
        writer.join()
        text = read_bytes(env_file).decode("utf-8", "replace")
        err = err.decode("utf-8", "replace")
        if f"B=writer-{round_number}\n" not in text:
            lost += 1
            example = example or f"round {round_number}: the writer's content is gone: {text!r}; rollback: {err.strip()[:200]}"
        elif process.returncode == 0:
            counts["applied on top" if "A=false" in text else "superseded by the writer"] += 1
        elif "changed while it was being edited; nothing written" in err and text == theirs:
            counts["refused"] += 1
        else:
            bad += 1
            example = example or f"round {round_number}: exit {process.returncode}: {err.strip()[:200]}; file {text!r}"
    results.record(lost == 0 and bad == 0, f"{ROUNDS} rollback edits with an outside writer (in place or by rename) "
                   f"at a random moment within the run ({window * 1000:.0f} ms)",
                   f"{lost} lost, {bad} unexplained; " + ", ".join(f"{v} {k}" for k, v in counts.items())
                   + (f"; {example}" if example else ""))


def main():
    results = Results("concurrent edits")
    base = temp_dir("edits")
    log(f"concurrent edits: {binary()}, {ROUNDS} rounds each")
    try:
        two_editors(results, base)
        outside_writer(results, base)
    finally:
        if not results.failed:
            shutil.rmtree(base, ignore_errors=True)
    results.exit()


if __name__ == "__main__":
    main()
