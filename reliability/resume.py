#!/usr/bin/env python3
"""Item 2, resume: kill -9 at every step boundary of Atom level 3 on the harness, then resume.

For each boundary k (0 = right after run-started, k = right after the step-finished of
step k, 1..8) a fresh `rollback execute --level 3 --yes` runs against the harness (flag files
reset to true first, without a restart); the journal is polled every millisecond and the
process is killed with SIGKILL as soon as the boundary appears. Then `rollback resume --yes`
must finish the run (exit 0), and each mutating step must have taken effect exactly once
(after the last step the run may finish before the kill lands: then resume must say there is
nothing to resume and exit 0):
  - frontend restarts: the supervisord log gains exactly one "spawned: 'frontend'";
  - flag writes: the run's backup directory holds exactly one backup per flag file (3);
  - the app serves the flag off, every step is journalled as succeeded.
"""

import os
import shutil
import signal
import time

from common import (ATOM, FLAG_FILES, LEVEL3_STEPS, Harness, Results, journal_events, journals, step_id, log, rollback,
                    spawn, temp_dir)


def boundary_reached(events, k):
    if k == 0:
        return any(e.get("event") == "run-started" for e in events)
    step = LEVEL3_STEPS[k - 1]
    return any(e.get("event") == "step-finished" and e.get("id") == step for e in events)


def main():
    harness = Harness()
    results = Results("2 resume")
    base = temp_dir("resume")
    rows = []
    failures = []
    started_next = []
    finished_before_kill = []
    started_all = time.monotonic()
    for k in range(0, len(LEVEL3_STEPS) + 1):
        harness.set_flag_files("true")
        state = os.path.join(base, f"k{k}")
        starts_before = harness.frontend_starts()
        env = harness.runbook_env()
        process = spawn(["execute", "--runbook", ATOM, "--env", "local", "--level", "3", "--yes", "--state-dir", state],
                        env=env)
        killed = False
        deadline = time.monotonic() + 120
        journal = None
        size = -1
        while time.monotonic() < deadline and process.poll() is None:
            if journal is None:
                found = journals(state)
                journal = found[0] if found else None
            if journal is not None:
                try:
                    now = os.path.getsize(journal)
                except OSError:
                    now = size
                if now != size:
                    size = now
                    if boundary_reached(journal_events(journal), k):
                        process.send_signal(signal.SIGKILL)
                        killed = True
                        break
            time.sleep(0.001)
        process.wait()
        events = journal_events(journal) if journal else []
        # Did the next step start before the kill landed? (then the kill was inside it)
        next_step = LEVEL3_STEPS[k] if k < len(LEVEL3_STEPS) else None
        inside_next = next_step is not None and any(
            e.get("event") == "step-started" and step_id(e) == next_step for e in events)
        if inside_next:
            started_next.append(k)
        # After the last step the run ends within a millisecond: the kill may land after it
        # finished. Then there is nothing to resume, and resume must say so and succeed.
        finished_first = process.returncode == 0 and any(e.get("event") == "run-finished" for e in events)
        if finished_first:
            finished_before_kill.append(k)
        status, out, err, seconds = rollback(["resume", "--runbook", ATOM, "--yes", "--state-dir", state], env=env,
                                             timeout=240)
        runs = journals(state)
        run_id = os.path.basename(runs[0])[:-len(".jsonl")] if runs else ""
        backup_dir = os.path.join(state, "backups", run_id)
        backups = sorted(os.listdir(backup_dir)) if os.path.isdir(backup_dir) else []
        restarts = harness.frontend_starts() - starts_before
        all_events = journal_events(runs[0]) if runs else []
        succeeded = {e.get("id") for e in all_events if e.get("event") == "step-finished" and e.get("status") == "succeeded"}
        finished = [e for e in all_events if e.get("event") == "run-finished"]
        already = out.count("already done in run")
        health = harness.health()
        files_off = all(f"NEXT_PUBLIC_USE_BACKEND_API=false\n" in open(harness.file(name)).read() for name in FLAG_FILES)
        ok = (killed and (process.returncode == -signal.SIGKILL or finished_first) and status == 0 and len(runs) == 1
              and restarts == 1 and len(backups) == len(FLAG_FILES) and succeeded == set(LEVEL3_STEPS)
              and finished and finished[-1].get("status") == "succeeded" and health.get("backend_api") == "false"
              and files_off)
        where = "after run-started" if k == 0 else f"after {LEVEL3_STEPS[k - 1]}"
        rows.append(f"{where}: resume exit {status} in {seconds:.1f}s, {already} steps skipped as done, "
                    f"{restarts} restart, {len(backups)} flag-file backups" + (" (kill landed inside the next step)" if inside_next else ""))
        log(f"  kill -9 {where}: resume exit {status}, {already} skipped, restarts {restarts}, backups {len(backups)}, "
            f"steps succeeded {len(succeeded)}/{len(LEVEL3_STEPS)}" + (", next step had started" if inside_next else ""))
        if not ok:
            failures.append(f"{where}: killed={killed} exit={status} runs={len(runs)} restarts={restarts} "
                            f"backups={len(backups)} succeeded={sorted(succeeded)} health={health.get('backend_api')} "
                            f"files_off={files_off} out={(out + err).strip()[-300:]!r}")
    elapsed = time.monotonic() - started_all
    boundaries = len(LEVEL3_STEPS) + 1
    results.record(
        not failures,
        f"kill -9 at each of the {boundaries} step boundaries of Atom level 3, then resume: completes, each change once",
        f"{boundaries - len(failures)} of {boundaries} boundaries (after run-started and after each of the 8 steps) "
        f"resumed to success with exactly 1 frontend restart and 3 flag-file writes each (one backup per file); "
        f"{len(started_next)} kills landed after the next step had started"
        + (f", {len(finished_before_kill)} after the run had finished (resume: nothing to resume, exit 0)"
           if finished_before_kill else "")
        + f"; {elapsed:.0f}s"
        + (f"; failures: {failures[:3]}" if failures else ""))
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base}")
    results.exit()


if __name__ == "__main__":
    main()
