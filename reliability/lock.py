#!/usr/bin/env python3
"""Item 3, the lock: 20 executions started at once, and a lock left by a killed process.

  - 20 `rollback execute` of a level that holds the lock for 3 s start within a few
    milliseconds of each other: exactly one runs (exit 0), the other 19 exit 4 naming the
    holder (its pid), each within a second of its own start.
  - An execution killed with SIGKILL while it holds the lock: the next execution takes the
    lock over at once, says whose lock it was, and succeeds.
"""

import os
import re
import shutil
import signal
import subprocess
import time

from common import Results, binary, journal_events, journals, log, read_bytes, spawn, temp_dir

COUNT = int(os.environ.get("RELIABILITY_LOCK_COUNT", "20"))


def main():
    results = Results("3 lock")
    base = temp_dir("lock")
    runbook = os.path.join(base, "rollback.yaml")
    pid_file = os.path.join(base, "child.pid")
    with open(runbook, "w", encoding="utf-8") as handle:
        handle.write(f"""version: 1
name: lock
environments: {{local: {{}}}}
levels:
  1:
    steps:
      - {{id: hold, run: [sleep, "3"]}}
  2:
    steps:
      - {{id: hold-long, run: {{shell: "echo $$ > {pid_file}; exec sleep 60"}}}}
  3:
    steps:
      - {{id: quick, run: ["true"]}}
""")
    state = os.path.join(base, "state")
    common = ["--runbook", runbook, "--state-dir", state, "--yes"]
    log(f"lock: {binary()}, {COUNT} executions at once")

    # 20 at once: each waits at a FIFO in a shell that then execs rollback; closing the
    # FIFO's only writer releases them all in the same instant. Output goes to files so that
    # no pipe slows anyone down.
    fifo = os.path.join(base, "start")
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR)
    processes = []
    for index in range(COUNT):
        out = open(os.path.join(base, f"out{index}"), "wb")
        err = open(os.path.join(base, f"err{index}"), "wb")
        process = subprocess.Popen(
            ["sh", "-c", 'read x < "$0"; exec "$@"', fifo, binary(), "execute", "--level", "1"] + common,
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(os.environ, NO_COLOR="1"))
        processes.append((process, out, err))
    # Wait until every shell sits in its read of the FIFO.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = 0
        for process, _out, _err in processes:
            try:
                with open(f"/proc/{process.pid}/wchan") as handle:
                    waiting += handle.read().strip() .endswith(("pipe_read", "pipe_wait"))
            except OSError:
                pass
        if waiting == COUNT:
            break
        time.sleep(0.01)
    released = time.monotonic()
    os.close(writer)
    ended = {}
    while len(ended) < COUNT:
        for index, (process, _out, _err) in enumerate(processes):
            if index not in ended and process.poll() is not None:
                ended[index] = time.monotonic() - released
        time.sleep(0.002)
    outcomes = []
    for index, (process, out, err) in enumerate(processes):
        out.close()
        err.close()
        text = read_bytes(os.path.join(base, f"out{index}")).decode() + read_bytes(os.path.join(base, f"err{index}")).decode()
        outcomes.append((process.pid, process.returncode, ended[index], text))
    winners = [o for o in outcomes if o[1] == 0]
    losers = [o for o in outcomes if o[1] == 4]
    others = [o for o in outcomes if o[1] not in (0, 4)]
    winner_pid = winners[0][0] if len(winners) == 1 else None
    named = [o for o in losers if winner_pid and f"pid {winner_pid} " in o[3]]
    slowest = max((o[2] for o in losers), default=0)
    results.record(
        len(winners) == 1 and len(losers) == COUNT - 1 and not others,
        f"{COUNT} executions started at once: exactly one runs, {COUNT - 1} exit 4",
        f"released at the same instant: {len(winners)} ran (exit 0), {len(losers)} exited 4, "
        f"{len(others)} other" + (f" ({[(o[1], o[3][-200:]) for o in others[:2]]})" if others else ""))
    results.record(
        len(named) == COUNT - 1,
        f"each of the {COUNT - 1} refused names the holder",
        f"{len(named)} of {len(losers)} name pid {winner_pid} (e.g. \"{_holder_line(losers)}\")")
    results.record(
        bool(losers) and slowest < 1.0,
        "each refusal comes within a second",
        f"slowest refusal (counted from the common start, exec included) {slowest * 1000:.0f} ms, median "
        f"{sorted(o[2] for o in losers)[len(losers) // 2] * 1000:.0f} ms" if losers else "no refusals")

    # A lock left by a killed process.
    killed_state = os.path.join(base, "killed-state")
    holder = spawn(["execute", "--level", "2", "--runbook", runbook, "--state-dir", killed_state, "--yes"])
    lock_file = os.path.join(killed_state, "lock")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not os.path.exists(pid_file):
        time.sleep(0.01)
    holder_record = read_bytes(lock_file).decode() if os.path.exists(lock_file) else ""
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    # The step's own child lives in its own session: stop it too.
    try:
        os.kill(int(open(pid_file).read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    started = time.monotonic()
    process = subprocess.run([binary(), "execute", "--level", "3", "--runbook", runbook, "--state-dir", killed_state,
                              "--yes"], capture_output=True, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    text = process.stdout.decode() + process.stderr.decode()
    warning = next((line.strip() for line in text.splitlines() if "warning" in line and "lock" in line), "")
    finished = {}
    for path in journals(killed_state):
        events = journal_events(path)
        pid = next((e.get("pid") for e in events if e.get("event") == "run-started"), None)
        finished[pid] = next((e.get("status") for e in events if e.get("event") == "run-finished"), "none")
    results.record(
        process.returncode == 0 and str(holder.pid) in warning and f'"pid":{holder.pid}' in holder_record.replace(" ", ""),
        "a lock left by a process killed with SIGKILL is taken over",
        f"the next execution took it in {seconds * 1000:.0f} ms and succeeded (exit {process.returncode}); "
        f"it said: \"{warning[:200]}\"; run-finished in the journals: killed run "
        f"{finished.get(holder.pid, '?')}, next run {finished.get(process_pid(finished, holder.pid), '?')}")
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base}")
    results.exit()


def process_pid(finished, killed):
    return next((pid for pid in finished if pid != killed), None)


def _holder_line(losers):
    for _pid, _status, _seconds, text in losers:
        for line in text.splitlines():
            if "holds the lock" in line:
                return re.sub(r"\s+", " ", line.strip())[:140]
    return ""


if __name__ == "__main__":
    main()
