#!/usr/bin/env python3
"""Item 5, in-process fuzzing: the fuzzers of Tests/RollbackCoreTests/Fuzz*Tests.swift compiled
against the release build (reliability/fuzz/build) and run for $RELIABILITY_FUZZ_RUNBOOKS
runbooks, $RELIABILITY_FUZZ_ENVS dotenv files (10 000 each by default) and
$RELIABILITY_FUZZ_JOURNALS journals (20 000). Inputs slower than
0.25 s are kept in $RELIABILITY_FUZZ_DUMP for fuzz_cli.py to time through the binary.
"""

import json
import os
import subprocess
import time

from common import ROOT, Results, log


def main():
    results = Results("5 fuzzing")
    runbooks = int(os.environ.get("RELIABILITY_FUZZ_RUNBOOKS", "10000"))
    envs = int(os.environ.get("RELIABILITY_FUZZ_ENVS", "10000"))
    journals = int(os.environ.get("RELIABILITY_FUZZ_JOURNALS", "20000"))
    seed = os.environ.get("RELIABILITY_SEED", str(int(time.time())))
    started = time.monotonic()
    build = subprocess.run([os.path.join(ROOT, "reliability", "fuzz", "build")], capture_output=True, text=True)
    if build.returncode != 0:
        results.record(False, "the fuzz driver builds against the release build", (build.stdout + build.stderr)[-400:])
        results.exit()
    log(f"fuzz driver built in {time.monotonic() - started:.0f}s; seed {seed}")
    driver = os.path.join(ROOT, ".build", "reliability", "fuzz")

    def fuzz(kind, count):
        done = subprocess.run([driver, kind, str(count), seed], capture_output=True, text=True, timeout=900,
                              env=dict(os.environ, ROLLBACK_FUZZ_ROOT=ROOT))
        try:
            return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return done.returncode, {"problems": [f"exit {done.returncode}: {done.stderr[-300:]}"]}

    status, figures = fuzz("runbook", runbooks)
    kinds = figures.get("by_kind", {})
    bombs = kinds.get("alias bombs", {})
    nesting = kinds.get("deep nesting", {})
    huge = kinds.get("huge scalars", {})
    results.record(
        status == 0 and figures.get("iterations") == runbooks,
        f"{runbooks} mutated runbooks through RunbookLoader.load (what `validate` runs): no crash, no hang, errors located",
        f"{figures.get('iterations')} inputs in {figures.get('seconds', 0):.0f}s (release build, 2 threads): "
        + ", ".join(f"{value['count']} {name}" for name, value in sorted(kinds.items()))
        + f"; slowest {figures.get('slowest_s', 0) * 1000:.0f} ms, p99 {figures.get('p99_s', 0) * 1000:.0f} ms; "
        f"{figures.get('errors_checked')} errors all at FILE:LINE:COL inside the file "
        f"({figures.get('unlocated')} not), {figures.get('refused_silently')} refused silently; "
        f"{figures.get('invalid_utf8')} inputs were not UTF-8 (repaired here; the CLI refuses them at their first bad byte)"
        + (f"; problems: {figures.get('problems', [])[:4]}" if status != 0 else ""))
    results.record(
        status == 0 and bombs.get("count", 0) > 0 and bombs.get("refused") == bombs.get("count")
        and nesting.get("refused") == nesting.get("count"),
        "alias bombs and deep nesting are refused quickly",
        f"{bombs.get('refused')} of {bombs.get('count')} alias bombs (up to 10^12 nodes) refused, slowest "
        f"{bombs.get('slowest_s', 0) * 1000:.0f} ms; {nesting.get('refused')} of {nesting.get('count')} deep nestings "
        f"refused, slowest {nesting.get('slowest_s', 0) * 1000:.0f} ms; huge scalars slowest "
        f"{huge.get('slowest_s', 0) * 1000:.0f} ms")

    status, figures = fuzz("dotenv", envs)
    refusals = figures.get("refusals", {})
    results.record(
        status == 0 and figures.get("iterations") == envs,
        f"{envs} mutated .env files through DotEnvDocument.setting: a correct edit or a clear refusal",
        f"{figures.get('iterations')} edits in {figures.get('seconds', 0):.1f}s: {figures.get('edits')} correct edits "
        f"(only the value's bytes changed, the new value reads back, other keys unchanged), "
        f"{sum(refusals.values())} refusals naming the key ("
        + ", ".join(f"{count} {name}" for name, count in sorted(refusals.items(), key=lambda item: -item[1]))
        + f"), {figures.get('problem_count', '?')} wrong"
        + (f"; problems: {figures.get('problems', [])[:4]}" if status != 0 else ""))

    status, figures = fuzz("journal", journals)
    results.record(
        status == 0 and figures.get("iterations") == journals,
        f"{journals} mutated journals (huge, negative, non-finite numbers; flipped and cut bytes) through "
        "history's and report's readers and renderers: no trap, out-of-range times unknown",
        f"{figures.get('parsed')} of them still a run, read and rendered in {figures.get('seconds', 0):.1f}s, "
        f"{figures.get('problem_count', '?')} wrong"
        + (f"; problems: {figures.get('problems', [])[:4]}" if status != 0 else ""))
    results.exit()


if __name__ == "__main__":
    main()
