#!/usr/bin/env python3
"""Item 5, fuzzing through the real binary (the in-process fuzzers run in reliability/run).

  - Mutated runbooks through `rollback validate` (byte flips, truncations, deep nesting,
    huge scalars, alias bombs), plus every input the in-process fuzzer kept as slow
    ($RELIABILITY_FUZZ_DUMP): the process never crashes or hangs, each run takes under a
    second (process start included), it exits 0 or 2, and every error is printed as
    `FILE:LINE:COL: error:` with LINE:COL a place in the file.
  - Mutated .env files through `rollback flag disable`: exit 0 and the file reads back with
    the flag off, for the tool and for a dotenv-npm-compatible parser (the sample app's), every
    other key as before, only the flag's line changed (or a line appended); or exit 1 with
    an error naming the file, and the file untouched (bytes, inode, mtime) with no temporary
    file left.
Usage: fuzz_cli.py [RUNBOOKS] [ENVS]
"""

import os
import random
import re
import shutil
import sys
import time

from common import ROOT, Results, binary, log, read_bytes, rollback, temp_dir

sys.path.insert(0, os.path.join(ROOT, "scripts", "harness"))
from sample_app import parse_dotenv  # noqa: E402  (the dotenv npm parser the sample app mimics)

LINE_BREAK = re.compile(r"\r\n|\r|\n|\x85|\u2028|\u2029")
# dotenv v16 matches `KEY\s*=`, and \s spans line breaks: a key whose `=` is on a later line is
# an assignment there, not for the editor (a known disagreement, reported apart).
KEY_THEN_BREAK = re.compile(rb"(?m)^[ \t]*(?:export\s+)?[\w.-]+[ \t]*[\r\n]\s*=")
KEY = "NEXT_PUBLIC_USE_BACKEND_API"


def yaml_lines(text):
    """Lengths of the lines as YAML counts them."""
    return [len(line) for line in LINE_BREAK.split(text)]


def located(path, stderr, text):
    """(errors found, problems) for the `FILE:LINE:COL: error:` lines of stderr."""
    lengths = yaml_lines(text)
    problems = []
    count = 0
    for match in re.finditer(r"^(.*?):(\d+):(\d+): error: ", stderr, re.MULTILINE):
        count += 1
        if match.group(1) != path:
            problems.append(f"names {match.group(1)}")
            continue
        line, column = int(match.group(2)), int(match.group(3))
        if not (1 <= line <= len(lengths) and 1 <= column <= lengths[line - 1] + 1):
            problems.append(f"{line}:{column} outside the file ({len(lengths)} lines)")
    return count, problems


def runbook_inputs(rng, count):
    seeds = []
    for folder in (os.path.join(ROOT, "runbooks"), os.path.join(ROOT, "runbooks", "examples")):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".yaml"):
                seeds.append(read_bytes(os.path.join(folder, name)))
    kinds = ["byte flips", "truncation", "deep nesting", "huge scalar", "alias bomb", "tokens"]
    for index in range(count):
        kind = kinds[index % len(kinds)]
        data = bytearray(rng.choice(seeds))
        if kind == "byte flips":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.choice(b":-{}[],&*!?|>'\"#%@` \t\n\r" + bytes([rng.randrange(256)]))
        elif kind == "truncation":
            data = data[:rng.randrange(len(data) + 1)]
        elif kind == "deep nesting":
            depth = rng.choice([65, 1000, 1001, 100_000])
            data = b"version: 1\nname: deep\ndescription: " + rng.choice([b"[" * depth + b"]" * depth, b"{a: " * depth + b"1" + b"}" * depth, b"[" * depth]) + b"\n"
        elif kind == "huge scalar":
            size = rng.choice([500_000, 1024 * 1024 + 1, 3_000_000, 8 * 1024 * 1024 + 1])
            data = rng.choice([b"version: 1\nname: big\ndescription: " + b"x" * size + b"\n",
                               b"version: 1\nname: big\n? " + b"k" * size + b"\n: 1\n",
                               b"version: 1\nname: big\ndescription: |\n" + b"\n".join([b"  " + b"y" * 998] * (size // 1000)) + b"\n"])
        elif kind == "alias bomb":
            lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
            for level in range(1, rng.randint(6, 12)):
                lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
            data = bytearray(("\n".join(lines) + "\n").encode())
            if rng.random() < 0.5:
                data = bytearray(rng.choice(seeds)) + b"\nbomb:\n" + b"\n".join(b"  " + l for l in bytes(data).split(b"\n"))
        else:
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(data) + 1)
                data[at:at] = rng.choice([b":", b"- ", b"{", b"]", b"&a ", b"*a", b"!!binary ", b"\t", b'"', b"'", b"\r", b"\xef\xbb\xbf", b"\xc2\x85", b"${", b"\x00"])
        yield kind, bytes(data)


ENV_SEEDS = [
    b"# Local overrides\nNEXT_PUBLIC_USE_BACKEND_API=true\nBACKEND_API_ROLLOUT_PERCENT=100\n\nDATABASE_URL=\"postgresql://u:p@h/db\"\nNEXTAUTH_URL=http://localhost:3000\n",
    b"NODE_ENV=production\nNEXT_PUBLIC_USE_BACKEND_API=true # inline comment\nLOG_LEVEL=info # c\n",
    b"# CRLF\r\nNEXT_PUBLIC_USE_BACKEND_API=true\r\nBACKEND_API_ROLLOUT_PERCENT=50\r\n",
    b"\xef\xbb\xbfexport NEXT_PUBLIC_USE_BACKEND_API = \"true\"\nexport OTHER=1\n",
    b"NAME='Atom'\nNEXT_PUBLIC_USE_BACKEND_API='true'\nEMPTY=\n",
    b"PRIVATE_KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nNEXT_PUBLIC_USE_BACKEND_API=`true`\n",
    b"NEXT_PUBLIC_USE_BACKEND_API=true",
    b"A=1\nB=\"two # not a comment\"\nC=three#four\nNEXT_PUBLIC_USE_BACKEND_API=\n",
]


def env_inputs(rng, count):
    tokens = [b'"', b"'", b"`", b"\n", b"\r", b"\r\n", b"#", b"=", b"export ", b" ", b"\t", b"\\", b"\x00",
              b"\xff", b"\n" + KEY.encode() + b"=1\n", b'X="\n']
    for index in range(count):
        data = bytearray(rng.choice(ENV_SEEDS))
        kind = index % 4
        if kind == 1:
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 2:
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(data) + 1)
                data[at:at] = rng.choice(tokens)
        elif kind == 3:
            data = data[:rng.randrange(len(data) + 1)]
        yield bytes(data)


HUGE = ["999999999999999h", "168h1s", "99999999999999999999s", "100000000000ms", "1e300", "-1e300",
        "9223372036854775808", "1e999", "-5m"]

HUGE_RUNBOOK = """version: 1
name: huge
environments: {local: {prometheus: {url: "http://127.0.0.1:1"}}}
signals:
  x: {prometheus: up, unit: count}
levels:
  1:
    target: TARGET
    steps:
      - {id: mark, run: [touch, MARKER]}
      - {id: slow, run: ["true"], timeout: TIMEOUT, retries: RETRIES, retry_delay: DELAY}
      - {id: wait, wait: "x < 1", within: WITHIN, interval: INTERVAL, consecutive: CONSECUTIVE}
"""

JOURNAL = (
    '{"event":"run-started","run_id":"RID","command":"execute","runbook":"x","environment":"local","level":LEVEL,'
    '"title":"L","dry_run":false,"target_s":TARGET,"started_at":"2026-01-01T00:00:00.000Z",'
    '"steps":[{"id":"a","kind":"run","mutates":true}]}\n'
    '{"event":"step-finished","id":"a","kind":"run","status":"succeeded","mutates":true,'
    '"started_at":"2026-01-01T00:00:00.000Z","duration_s":STEP,"attempts":ATTEMPTS,'
    '"signals":[{"name":"x","value":VALUE,"unit":"count"}]}\n'
    '{"event":"run-finished","status":"succeeded","finished_at":"2026-01-01T00:00:01.000Z",'
    '"duration_s":DURATION,"rollback_duration_s":ROLLBACK,"within_target":true}\n')


def huge_numbers(rng, base, results):
    """Huge and out-of-range numbers in runbooks, CLI arguments and journals: never a signal."""
    count = int(os.environ.get("RELIABILITY_CLI_HUGE", "60"))
    folder = os.path.join(base, "huge")
    os.makedirs(folder)
    marker = os.path.join(folder, "marker")
    bad = []
    ran = 0
    fields = ["TARGET", "TIMEOUT", "DELAY", "WITHIN", "INTERVAL", "RETRIES", "CONSECUTIVE"]
    normal = {"TARGET": "5m", "TIMEOUT": "5s", "DELAY": "1s", "WITHIN": "1s", "INTERVAL": "500ms",
              "RETRIES": "0", "CONSECUTIVE": "1"}
    for index in range(count):
        values = dict(normal)
        values[rng.choice(fields)] = rng.choice(HUGE)
        text = HUGE_RUNBOOK.replace("MARKER", marker)
        for key, value in values.items():
            text = text.replace(key, value)
        path = os.path.join(folder, f"h{index}.yaml")
        with open(path, "w") as handle:
            handle.write(text)
        for args in (["validate", "--runbook", path],
                     ["execute", "--runbook", path, "--level", "1", "--yes", "--state-dir", os.path.join(folder, "s")]):
            if os.path.exists(marker):
                os.unlink(marker)
            status, _out, err, _s = rollback(args, timeout=20)
            ran += 1
            if status == "timeout" or status < 0 or status >= 128:
                bad.append(f"{args[0]} with {values}: exit {status}")
            elif args[0] == "validate" and status == 2 and located(path, err, text)[0] == 0:
                bad.append(f"validate with {values}: refused without a located error")
            elif args[0] == "execute" and status == 2 and os.path.exists(marker):
                bad.append(f"execute with {values}: refused after a change")
    arguments = [["assess", "--watch", v] for v in HUGE] + [["execute", "--level", "1", "--signal", f"x={v}"] for v in HUGE]
    arguments += [["history", "--limit", v] for v in HUGE] + [["flag", "percent", v, "f"] for v in HUGE]
    for args in arguments:
        status, _out, _err, _s = rollback(args + ["--runbook", os.path.join(folder, "h0.yaml"),
                                                  "--state-dir", os.path.join(folder, "s")], timeout=20)
        ran += 1
        if status == "timeout" or status < 0 or status >= 128:
            bad.append(f"{' '.join(args)}: exit {status}")
    state = os.path.join(folder, "journals")
    os.makedirs(os.path.join(state, "runs"))
    numbers = HUGE[3:] + ["1e308", "-0", "NaN", "Infinity", '"x"', "null", "[]", "{}", "9" * 400]
    for index in range(count):
        run_id = f"20260101T0000{index // 60:02d}Z-{index:04x}"
        text = JOURNAL.replace("RID", run_id)
        for key in ("LEVEL", "TARGET", "STEP", "ATTEMPTS", "VALUE", "DURATION", "ROLLBACK"):
            text = text.replace(key, rng.choice(numbers) if rng.random() < 0.6 else "1")
        with open(os.path.join(state, "runs", f"{run_id}.jsonl"), "w") as handle:
            handle.write(text)
        for args in (["history"], ["report", run_id], ["report", run_id, "--json"], ["report", run_id, "--message"]):
            status, _out, err, _s = rollback(args + ["--state-dir", state], timeout=20)
            ran += 1
            if status == "timeout" or status < 0 or status >= 128:
                bad.append(f"{args[0]} of a journal with {text[:300]!r}: exit {status}")
    results.record(
        not bad,
        "huge and out-of-range numbers in runbooks, CLI arguments and journals never end rollback by a signal",
        f"{ran} runs: runbooks with one duration or count out of range refused with a located error before any "
        f"change, CLI arguments, journals with out-of-range numbers through history and report"
        + (f"; problems: {bad[:4]}" if bad else ""))


def main():
    runbook_count = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("RELIABILITY_CLI_RUNBOOKS", "300"))
    env_count = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("RELIABILITY_CLI_ENVS", "200"))
    seed = int(os.environ.get("RELIABILITY_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    results = Results("5 fuzzing")
    base = temp_dir("fuzzcli")
    log(f"fuzzing through {binary()}: {runbook_count} runbooks (+ kept slow inputs), {env_count} .env files, seed {seed}")

    # --- runbooks through `rollback validate` ---------------------------------
    inputs = list(runbook_inputs(rng, runbook_count))
    dump = os.environ.get("RELIABILITY_FUZZ_DUMP", "")
    kept = sorted(name for name in os.listdir(dump) if name.startswith("slow-")) if dump and os.path.isdir(dump) else []
    for name in kept:
        inputs.append(("kept slow by the in-process fuzzer", read_bytes(os.path.join(dump, name))))
    bad = []
    slowest = (0.0, "")
    statuses = {}
    errors_seen = 0
    for index, (kind, data) in enumerate(inputs):
        path = os.path.join(base, f"r{index}.yaml")
        with open(path, "wb") as handle:
            handle.write(data)
        status, _out, err, seconds = rollback(["validate", "--runbook", path], timeout=10)
        statuses[status] = statuses.get(status, 0) + 1
        if seconds > slowest[0]:
            slowest = (seconds, kind)
        text = data.decode("utf-8", "replace")
        count, problems = located(path, err, text)
        errors_seen += count
        if status not in (0, 2):
            problems.append(f"exit {status}")
        if seconds >= 1.0:
            problems.append(f"took {seconds:.2f}s")
        if status == 2 and count == 0:
            problems.append("refused without a located error")
        if problems:
            bad.append(f"{kind} #{index}: {'; '.join(problems)} ({err.strip()[:160]!r})")
            shutil.copy(path, os.path.join(base, f"bad-r{index}.yaml"))
    results.record(
        not bad,
        f"{len(inputs)} mutated runbooks through `rollback validate`: no crash, no hang, each under 1 s, errors located",
        f"{len(inputs)} runs ({len(kept)} of them the in-process fuzzer's slowest inputs): exits "
        + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items(), key=str))
        + f"; {errors_seen} error lines all FILE:LINE:COL inside the file; slowest {slowest[0] * 1000:.0f} ms "
        f"({slowest[1]}, process start included)" + (f"; problems: {bad[:4]}" if bad else ""))

    # --- .env files through `rollback flag disable` ----------------------------
    app = os.path.join(base, "app")
    os.makedirs(app)
    env_path = os.path.join(app, ".env")
    runbook = os.path.join(base, "rollback.yaml")
    with open(runbook, "w") as handle:
        handle.write(f'version: 1\nname: envfuzz\nenvironments: {{local: {{}}}}\nflags:\n  f: {{key: {KEY}, files: ["{env_path}"]}}\n'
                     "levels:\n  1:\n    steps:\n      - {id: off, flag: {name: f, set: disabled}}\n")
    state = os.path.join(base, "state")
    outcomes = {"edited": 0, "already off": 0, "refused": 0}
    wrong = []
    npm_disagrees = []
    known = []
    for index, data in enumerate(env_inputs(rng, env_count)):
        with open(env_path, "wb") as handle:
            handle.write(data)
        before = os.stat(env_path)
        status, out, err, _s = rollback(["flag", "disable", "--runbook", runbook, "--state-dir", state], timeout=10)
        after_bytes = read_bytes(env_path)
        after = os.stat(env_path)
        strays = [name for name in os.listdir(app) if ".rollback-tmp-" in name]
        problems = []
        if strays:
            problems.append(f"temporary files left: {strays}")
        if status == 0:
            if after_bytes == data:
                outcomes["already off"] += 1
                if (before.st_ino, before.st_mtime_ns) != (after.st_ino, after.st_mtime_ns):
                    problems.append("rewrote a file that needed no change")
            else:
                outcomes["edited"] += 1
                old_lines = data.split(b"\n")
                new_lines = after_bytes.split(b"\n")
                changed = [i for i in range(min(len(old_lines), len(new_lines))) if old_lines[i] != new_lines[i]]
                appended = after_bytes.startswith(data)
                if not appended and (len(changed) != 1 or KEY.encode() not in old_lines[changed[0]]):
                    if not (len(old_lines) > len(new_lines) and KEY.encode() in data):  # a multi-line value made one line
                        problems.append(f"changed lines {changed[:5]}, not just the flag's")
                old_npm = parse_dotenv(data.decode("utf-8-sig", "replace"))  # JS \s skips a BOM
                new_npm = parse_dotenv(after_bytes.decode("utf-8-sig", "replace"))
                if new_npm.get(KEY) != "false":
                    npm_disagrees.append(f"#{index}: dotenv reads {new_npm.get(KEY)!r} from {after_bytes[:120]!r}")
                    if KEY_THEN_BREAK.search(data):
                        problems.append("dotenv reads another value")
                for key, value in old_npm.items():
                    if key != KEY and new_npm.get(key) != value:
                        problems.append(f"dotenv now reads {key}={new_npm.get(key)!r}, was {value!r}")
        elif status == 1:
            outcomes["refused"] += 1
            if after_bytes != data or (before.st_ino, before.st_mtime_ns) != (after.st_ino, after.st_mtime_ns):
                problems.append("refused but the file changed")
            if "error:" not in err or env_path not in err:
                problems.append(f"the refusal does not name the file: {err.strip()[:160]!r}")
        else:
            problems.append(f"exit {status}: {err.strip()[:200]!r}")
        if problems and status == 0 and KEY_THEN_BREAK.search(data):
            known.append(f"#{index}")
            npm_disagrees = [d for d in npm_disagrees if not d.startswith(f"#{index}:")]
        elif problems:
            wrong.append(f"#{index}: {'; '.join(problems)}")
            with open(os.path.join(base, f"bad-{index}.env"), "wb") as handle:
                handle.write(data)
        shutil.rmtree(os.path.join(state, "backups"), ignore_errors=True)
    results.record(
        not wrong,
        f"{env_count} mutated .env files through `rollback flag disable`: a correct edit or a clean refusal",
        f"{outcomes['edited']} edited (only the flag's line, every other key unchanged for a dotenv-npm parser), "
        f"{outcomes['already off']} already off and left untouched, {outcomes['refused']} refused with the file "
        f"untouched (bytes, inode, mtime) and no temporary file" + (f"; wrong: {wrong[:4]}" if wrong else ""))
    results.record(
        not npm_disagrees,
        "every edited .env reads the flag as off for a dotenv-npm-compatible parser too",
        f"{outcomes['edited'] - len(npm_disagrees) - len(known)} of {outcomes['edited']} agree"
        + (f"; {len(known)} known disagreements (a key with its '=' on a later line, which dotenv v16 "
           f"reads as an assignment: {known[:3]})" if known else "")
        + (f"; disagreements: {npm_disagrees[:3]}" if npm_disagrees else ""))
    huge_numbers(rng, base, results)
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base}")
    results.exit()


if __name__ == "__main__":
    main()
