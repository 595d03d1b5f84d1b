#!/usr/bin/env python3
"""Item 4, faults during a run, on the harness.

  a. Prometheus killed mid-assessment: `rollback assess` runs against a Prometheus of our own
     (the harness's scrape config) that is frozen (SIGSTOP) so every query hangs, then killed
     with SIGKILL while they wait: every Prometheus signal is unknown with its reason, the
     verdict is never healthy, and assess ends within its query timeout.
  b. PostgreSQL restarted (pg_ctl restart -m fast) while a level runs a SQL step: with
     `retries` the step succeeds on a later attempt; without, it fails clearly and the run
     says what to do next.
  c. A .env on a full file system (a 64 KiB tmpfs): `rollback flag disable` and a flag step
     fail cleanly, the original is intact (bytes, inode) and no temporary file is left.
  d. A read-only .env (as user nobody: root bypasses permissions): preflight fails and nothing
     changes; `rollback flag disable` changes nothing either.
  e. A health endpoint that never becomes healthy ($APP_DIR/.unhealthy): the restart step fails
     at its deadline and the output says what to do next.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import time

from common import (ATOM, Harness, Results, binary, free_port, journal_events, journals, step_id, log, read_bytes, rollback,
                    run, spawn, temp_dir, write)


def wait_until(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def prometheus_killed_mid_assessment(harness, results, base):
    config = os.path.join(harness.dir, "prometheus", "prometheus.yml")
    port = free_port()
    data = os.path.join(base, "prom-data")
    url = f"http://127.0.0.1:{port}"
    extra = []
    if run(["prometheus", "--scrape.discovery-reload-interval=100ms", "--version"])[0] == 0:
        extra.append("--scrape.discovery-reload-interval=100ms")
    log_file = open(os.path.join(base, "prometheus.log"), "wb")
    prom = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"] + extra,
                            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file, start_new_session=True)
    try:
        scraped = wait_until(lambda: harness.query('up{job="frontend"}', url=url) == 1.0, 30, 0.3)
        env = harness.runbook_env(ROLLBACK_PROM_URL=url)
        common = ["--runbook", ATOM, "--env", "local", "--json", "--state-dir", os.path.join(base, "assess-state")]
        status, out, _err, _s = rollback(["assess"] + common, env=env, timeout=60)
        try:
            baseline = json.loads(out)
        except ValueError:
            baseline = {}
        live = [s["name"] for s in baseline.get("signals", []) if s.get("source") == "prometheus" and s.get("value") is not None]
        # Freeze it: the queries connect and wait. Then kill it while they wait.
        prom.send_signal(signal.SIGSTOP)
        out_path = os.path.join(base, "assess.json")
        err_path = os.path.join(base, "assess.err")
        started = time.monotonic()
        with open(out_path, "wb") as out_file, open(err_path, "wb") as err_file:
            process = spawn(["assess"] + common, env=env, stdout=out_file, stderr=err_file)
            time.sleep(1.0)
            mid = process.poll() is None
            prom.send_signal(signal.SIGKILL)
            prom.wait()
            process.wait(timeout=60)
        seconds = time.monotonic() - started
        try:
            verdict = json.loads(read_bytes(out_path))
        except ValueError:
            verdict = {}
        prom_signals = [s for s in verdict.get("signals", []) if s.get("source") == "prometheus"]
        unknown = [s for s in prom_signals if s.get("value") is None and s.get("error")]
        reasons = sorted({s["error"] for s in unknown})
        severity = verdict.get("severity")
        ok = (scraped and live and mid and prom_signals and len(unknown) == len(prom_signals)
              and severity != "healthy" and process.returncode not in (0,) and seconds < 5 + 1 + 1)
        results.record(
            ok, "Prometheus killed mid-assessment: every Prometheus signal unknown, never healthy",
            f"baseline read {len(live)} Prometheus signals; killed while the assessment waited (after 1 s): "
            f"{len(unknown)} of {len(prom_signals)} Prometheus signals unknown ({'; '.join(reasons)[:160]}), "
            f"verdict {severity or 'none'}{' (inconclusive)' if verdict.get('inconclusive') else ''}, exit "
            f"{process.returncode}, {seconds:.1f}s from start (query timeout 5s)")
    finally:
        if prom.poll() is None:
            prom.send_signal(signal.SIGKILL)
            prom.wait()
        log_file.close()


def postgres_restarted_during_level(harness, results, base):
    pgdata = os.path.join(harness.dir, "pg", "data")
    pglog = os.path.join(harness.dir, "pg", "postgres.log")
    runbook = os.path.join(base, "pg.yaml")
    write(runbook, """version: 1
name: pgfault
environments:
  local:
    postgres: {dsn_env: DATABASE_URL, timeout: 5s}
signals:
  db_up: {postgres: SELECT 1}
levels:
  1:
    target: 1m
    steps:
      - {id: before, sql: {query: "SELECT 1", mutates: false}}
      - {id: slow-read, sql: {query: "SELECT pg_sleep(3)", mutates: false}, retries: 8, retry_delay: 1s}
      - {id: db-back, assert: "db_up == 1"}
  2:
    target: 1m
    steps:
      - {id: slow-read, sql: {query: "SELECT pg_sleep(3)", mutates: false}}
      - {id: after, run: ["true"]}
""")

    def restart_during(level):
        state = os.path.join(base, f"pg-state-{level}")
        out_path = os.path.join(base, f"pg-{level}.out")
        with open(out_path, "wb") as out_file:
            process = spawn(["execute", "--runbook", runbook, "--env", "local", "--level", str(level), "--yes",
                             "--state-dir", state], env=harness.runbook_env(), stdout=out_file, stderr=subprocess.STDOUT)
            in_step = wait_until(lambda: any(e.get("event") == "step-started" and step_id(e) == "slow-read"
                                             for path in journals(state) for e in journal_events(path)), 30, 0.02)
            time.sleep(0.5)
            restart = run(["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl", "-D", pgdata, "-l",
                           pglog, "-m", "fast", "-w", "restart"], cwd="/", timeout=60)
            process.wait(timeout=120)
        events = [e for path in journals(state) for e in journal_events(path)]
        step = next((e for e in events if e.get("event") == "step-finished" and e.get("id") == "slow-read"), {})
        return process.returncode, read_bytes(out_path).decode("utf-8", "replace"), step, in_step, restart[0]

    status, out, step, in_step, restarted = restart_during(1)
    attempts = step.get("attempts")
    results.record(
        in_step and restarted == 0 and status == 0 and step.get("status") == "succeeded" and (attempts or 0) >= 2,
        "PostgreSQL restarted during a SQL step with retries: the step succeeds on a later attempt",
        f"pg_ctl restart -m fast 0.5 s into `SELECT pg_sleep(3)`: step {step.get('status')} after {attempts} attempts, "
        f"run exit {status}" + ("" if status == 0 else f" ({out.strip()[-200:]!r})"))
    status, out, step, in_step, restarted = restart_during(2)
    error = step.get("error") or ""
    secret = harness.pg_password and harness.pg_password in out
    results.record(
        in_step and restarted == 0 and status == 1 and step.get("status") == "failed" and error
        and "Next:" in out and not secret,
        "PostgreSQL restarted during a SQL step without retries: the step fails clearly, the run says what next",
        f"step failed: \"{error[:150]}\"; exit {status}; "
        + next((line.strip()[:170] for line in out.splitlines() if line.startswith("Next:")), "no Next: line")
        + ("; the password was printed!" if secret else ""))
    wait_until(lambda: harness.psql("SELECT 1")[0] == 0, 30, 0.2)


def full_file_system(harness, results, base):
    mount_point = os.path.join(base, "tmpfs")
    os.makedirs(mount_point)
    method = "tmpfs"
    mounted = run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mount_point])[0] == 0
    env_path = os.path.join(mount_point, ".env")
    lines = [f"KEY_{index:04d}=value-{index:06d}-padding-padding" for index in range(900)]
    lines.insert(450, "FEATURE_FLAG=true")
    content = ("\n".join(lines) + "\n").encode()
    preexec = None
    try:
        if not mounted:
            # Fallback: a file-size limit makes write() fail with EFBIG (SIGXFSZ ignored).
            method = "RLIMIT_FSIZE (mount refused)"
            env_path = os.path.join(base, "fsize", ".env")
            os.makedirs(os.path.dirname(env_path))

            def preexec():
                import resource
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        with open(env_path, "wb") as handle:
            handle.write(content)
        if mounted:
            # Fill the rest: the file system now has less free space than the file's size.
            usage = shutil.disk_usage(mount_point)
            log(f"  tmpfs 64 KiB: .env {len(content)} bytes, {usage.free} bytes free")
        runbook = os.path.join(base, "full.yaml")
        write(runbook, f'version: 1\nname: full\nenvironments: {{local: {{}}}}\nflags:\n  f: {{key: FEATURE_FLAG, files: ["{env_path}"]}}\n'
                       "levels:\n  1:\n    steps:\n      - {id: off, flag: {name: f, set: disabled}}\n")
        figures = []
        ok = True
        for label, args in (("rollback flag disable", ["flag", "disable"]),
                            ("execute (flag step)", ["execute", "--level", "1", "--yes"])):
            before = os.stat(env_path)
            state = os.path.join(base, "full-state-" + args[0])
            argv = [binary()] + args + ["--runbook", runbook, "--state-dir", state]
            done = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, preexec_fn=preexec, timeout=60)
            text = (done.stdout + done.stderr).decode("utf-8", "replace")
            after = os.stat(env_path)
            intact = read_bytes(env_path) == content and after.st_ino == before.st_ino
            strays = [name for name in os.listdir(os.path.dirname(env_path)) if ".rollback-tmp-" in name]
            reason = next((line.strip() for line in text.splitlines()
                           if "space" in line.lower() or "too large" in line.lower()), "")
            next_line = next((line.strip() for line in text.splitlines() if line.startswith("Next:")), "")
            good = done.returncode == 1 and intact and not strays and reason and (args[0] != "execute" or next_line)
            ok = ok and good
            figures.append(f"{label}: exit {done.returncode}, \"{reason[:110]}\", original "
                           f"{'intact' if intact else 'CHANGED'}, {len(strays)} temp files left"
                           + (f", \"{next_line[:90]}\"" if next_line else ""))
        # Two flag files, the second on the full file system: the first is put back.
        first = os.path.join(base, "first.env")
        write(first, "FEATURE_FLAG=true\n")
        runbook2 = os.path.join(base, "full2.yaml")
        write(runbook2, f'version: 1\nname: full2\nenvironments: {{local: {{}}}}\nflags:\n  f: {{key: FEATURE_FLAG, files: ["{first}", "{env_path}"]}}\n'
                        "levels:\n  1:\n    steps:\n      - {id: off, flag: {name: f, set: disabled}}\n")
        done = subprocess.run([binary(), "flag", "disable", "--runbook", runbook2, "--state-dir", os.path.join(base, "full-state-2")],
                              capture_output=True, stdin=subprocess.DEVNULL, preexec_fn=preexec, timeout=60)
        text = (done.stdout + done.stderr).decode("utf-8", "replace")
        both = read_bytes(first) == b"FEATURE_FLAG=true\n" and read_bytes(env_path) == content
        ok = ok and done.returncode == 1 and both and "put back" in text
        figures.append(f"two flag files, the second on the full file system: exit {done.returncode}, both "
                       f"{'as before' if both else 'NOT as before'}: \"{text.strip().splitlines()[-1][-140:] if text.strip() else ''}\"")
        if mounted:
            figures.append(f"free space afterwards {shutil.disk_usage(mount_point).free} bytes")
        results.record(ok, f"a .env on a full file system ({method}): the write fails cleanly, the original is intact",
                       "; ".join(figures))
    finally:
        if mounted:
            run(["umount", mount_point])


def read_only_env(harness, results, base):
    directory = os.path.join(base, "readonly")
    os.makedirs(directory)
    os.chmod(base, 0o755)
    os.chmod(directory, 0o777)
    writable = os.path.join(directory, "a.env")
    locked = os.path.join(directory, "b.env")
    # a.env belongs to nobody (the on-call user's own file), b.env to root: without a
    # preflight (or a put-back), a flag change would leave a.env off and b.env on.
    for path, mode in ((writable, 0o644), (locked, 0o644)):
        write(path, "FLAG=true\nOTHER=1\n", mode)
    nobody = pwd.getpwnam("nobody")
    os.chown(writable, nobody.pw_uid, nobody.pw_gid)
    runbook = os.path.join(directory, "rollback.yaml")
    write(runbook, f'version: 1\nname: locked\nenvironments: {{local: {{}}}}\nflags:\n  f: {{key: FLAG, files: ["{writable}", "{locked}"]}}\n'
                   "levels:\n  1:\n    steps:\n      - {id: off, flag: {name: f, set: disabled}}\n", 0o644)
    state = os.path.join(directory, "state")
    figures = []
    ok = True
    for label, args in (("execute", ["execute", "--level", "1", "--yes"]), ("flag disable", ["flag", "disable"])):
        before = {path: (os.stat(path).st_ino, os.stat(path).st_mtime_ns, read_bytes(path)) for path in (writable, locked)}
        status, out, err, _s = run([binary()] + args + ["--runbook", runbook, "--state-dir", state], user="nobody")
        text = out + err
        after = {path: (os.stat(path).st_ino, os.stat(path).st_mtime_ns, read_bytes(path)) for path in (writable, locked)}
        unchanged = before == after
        backups = [p for p in (os.listdir(os.path.join(state, "backups")) if os.path.isdir(os.path.join(state, "backups")) else [])]
        says = next((line.strip() for line in text.splitlines() if "not writable" in line or "denied" in line.lower()), "")
        good = (status == 1 and unchanged and says
                and (args[0] != "execute" or "preflight failed; nothing was changed" in text))
        ok = ok and good
        figures.append(f"{label} as nobody: exit {status}, both files {'unchanged' if unchanged else 'NOT unchanged'} "
                       f"(bytes, inode, mtime): \"{says[:240]}\"")
    results.record(ok, "a read-only .env (one of two flag files): preflight fails and nothing changes", "; ".join(figures))


def never_healthy(harness, results, base):
    runbook = os.path.join(base, "unhealthy.yaml")
    write(runbook, f"""version: 1
name: unhealthy
environments:
  local:
    vars: {{conf: "{harness.supervisor_conf}", url: "{harness.app_url}"}}
services:
  frontend:
    restart: [supervisorctl, -c, "${{conf}}", restart, frontend]
    health: {{http: {{url: "${{url}}/api/health", expect_status: 200}}, within: 5s, interval: 500ms}}
levels:
  1:
    target: 1m
    steps:
      - {{id: restart-frontend, restart: frontend}}
      - {{id: after, run: ["true"]}}
""")
    marker = harness.file(".unhealthy")
    open(marker, "w").close()
    try:
        state = os.path.join(base, "unhealthy-state")
        status, out, err, seconds = rollback(["execute", "--runbook", runbook, "--env", "local", "--level", "1", "--yes",
                                              "--state-dir", state], env=harness.runbook_env(), timeout=60)
        events = [e for path in journals(state) for e in journal_events(path)]
        step = next((e for e in events if e.get("event") == "step-finished" and e.get("id") == "restart-frontend"), {})
        ran_after = any(e.get("event") == "step-started" and step_id(e) == "after" for e in events)
        duration = step.get("duration_s") or 0
        next_line = next((line.strip() for line in out.splitlines() if line.startswith("Next:")), "")
        ok = (status == 1 and step.get("status") == "failed" and 5.0 <= duration <= 7.0 and not ran_after
              and next_line and "resume" in next_line)
        results.record(
            ok, "a health endpoint that never becomes healthy: the restart step fails at its deadline, says what next",
            f"restart step failed after {duration:.1f}s (deadline 5s): \"{(step.get('error') or '')[:120]}\"; "
            f"later steps not run; \"{next_line[:200]}\"")
    finally:
        os.remove(marker)
        harness.reset_app("false")


def main():
    harness = Harness()
    results = Results("4 faults")
    base = temp_dir("faults")
    steps = [prometheus_killed_mid_assessment, postgres_restarted_during_level, full_file_system, read_only_env,
             never_healthy]
    for step in steps:
        try:
            step(harness, results, base)
        except Exception as error:  # a broken check is a failed check, and the others still run
            results.record(False, step.__name__.replace("_", " "), f"the check itself failed: {error!r}")
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base}")
    results.exit()


if __name__ == "__main__":
    main()
