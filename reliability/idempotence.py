#!/usr/bin/env python3
"""Item 7, idempotence: a second `execute` of level 3 right after the first writes no file.

After a first `rollback execute --level 3 --yes` of the Atom runbook on the harness, a second
one runs at once. Every flag file keeps its inode, mtime and ctime (nothing written, renamed or
chmod-ed), the app directory keeps its mtime (no temporary file created in it), the second run
leaves no backup, and its output says "already false ... nothing written". Then the same for
`rollback flag disable`.
"""

import json
import os
import shutil

from common import ATOM, FLAG_FILES, Harness, Results, log, read_bytes, rollback, temp_dir


def snapshot(harness):
    files = {}
    for name in FLAG_FILES:
        info = os.stat(harness.file(name))
        files[name] = (info.st_ino, info.st_mtime_ns, info.st_ctime_ns, read_bytes(harness.file(name)))
    directory = os.stat(harness.app_dir)
    return files, (directory.st_mtime_ns, directory.st_ctime_ns, sorted(os.listdir(harness.app_dir)))


def main():
    harness = Harness()
    results = Results("7 idempotence")
    base = temp_dir("idempotence")
    state = os.path.join(base, "state")
    env = harness.runbook_env()
    common = ["--runbook", ATOM, "--env", "local", "--state-dir", state]
    harness.set_flag_files("true")
    first = rollback(["execute", "--level", "3", "--yes", "--json"] + common, env=env, timeout=240)
    first_json = json.loads(first[1]) if first[0] == 0 else {}
    files_before, directory_before = snapshot(harness)
    backups_root = os.path.join(state, "backups")
    backups_before = sorted(os.listdir(backups_root)) if os.path.isdir(backups_root) else []
    second = rollback(["execute", "--level", "3", "--yes", "--json"] + common, env=env, timeout=240)
    files_after, directory_after = snapshot(harness)
    backups_after = sorted(os.listdir(backups_root)) if os.path.isdir(backups_root) else []
    try:
        second_json = json.loads(second[1])
    except ValueError:
        second_json = {}
    step = next((s for s in second_json.get("steps", []) if s.get("id") == "disable-flag"), {})
    said = next((line.strip() for line in second[2].splitlines() if "nothing written" in line), "")
    untouched = files_before == files_after and directory_before == directory_after
    ok = (first[0] == 0 and second[0] == 0 and untouched and backups_after == backups_before
          and "already false in 3 files; nothing written" in (step.get("detail") or "") and said)
    first_backups = len(os.listdir(os.path.join(backups_root, first_json.get("run_id", "-")))) if first_json else 0
    results.record(
        ok, "a second `execute --level 3` right after the first writes no file and says so",
        f"first run wrote 3 flag files ({first_backups} backups); second run exit {second[0]}: 3 flag files with the same "
        f"inode, mtime and ctime, app directory mtime unchanged, {len(backups_after) - len(backups_before)} new backup "
        f"directories; it said \"{said[:120]}\"")

    files_before, directory_before = snapshot(harness)
    status, out, err, _s = rollback(["flag", "disable", "backend-api"] + common, env=env)
    files_after, directory_after = snapshot(harness)
    said = next((line.strip() for line in (out + err).splitlines() if "nothing written" in line), "")
    ok = status == 0 and files_before == files_after and directory_before == directory_after and said
    results.record(ok, "`rollback flag disable` when already off writes no file and says so",
                   f"exit {status}, files and directory untouched: {files_before == files_after and directory_before == directory_after}; "
                   f"\"{said[:120]}\"")
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base}")
    results.exit()


if __name__ == "__main__":
    main()
