#!/usr/bin/env python3
"""python-dotenv as a second reader of every flag edit.

The .env inputs of the CLI fuzzer (fuzz_cli.py: its seeds and their mutations), the seeds of the
in-process fuzzer (Tests/RollbackCoreTests/FuzzDotEnvTests.swift) and lines other parsers read
as assignments (`KEY: value`, non-ASCII and bracketed keys, CR-only line ends), each through
`rollback flag disable`, `enable` and `percent 10` on a temporary file. For every edit (exit 0)
python-dotenv (Debian python3-dotenv) must read the new value for the key and, for every other
key, the value it read before; a refusal (exit 1) must leave the file's bytes as they were.
Anything else is a disagreement.
Usage: dotenv_parity.py [CASES]   (default $RELIABILITY_PARITY_ENVS or 300 mutated inputs)
"""

import io
import logging
import os
import random
import shutil
import sys
import time

from common import Results, binary, log, read_bytes, rollback, temp_dir
from fuzz_cli import ENV_SEEDS, KEY, env_inputs

try:
    from dotenv import dotenv_values
except ImportError:  # pragma: no cover - reported as a failure below
    dotenv_values = None

PERCENT_KEY = "BACKEND_API_ROLLOUT_PERCENT"

# The in-process fuzzer's seeds (FuzzDotEnvTests.swift) and the forms other parsers read.
EXTRA_SEEDS = [
    b"NEXT_PUBLIC_APP_NAME='Atom'\nNEXT_PUBLIC_USE_BACKEND_API='true'\nEMPTY=\nSPACED = a b c \n",
    b"PRIVATE_KEY=\"-----BEGIN KEY-----\nabc\ndef\n-----END KEY-----\"\nNEXT_PUBLIC_USE_BACKEND_API=`true`\n",
    b"A=1\nB=\"two # not a comment\"\nC=three#four\nD=\"esc \\\" \\n \\\\ x\"\nNEXT_PUBLIC_USE_BACKEND_API=\n",
    b"",
    b"\n".join(b"NEXT_PUBLIC_USE_BACKEND_API=true" if i == 75 else b"KEY_%d=value-%d" % (i, i) for i in range(150)) + b"\n",
    b"CERT: \"line1\nNEXT_PUBLIC_USE_BACKEND_API=true\nline3\"\nOTHER=1\n",
    b"CL\xc3\x89=\"line1\nNEXT_PUBLIC_USE_BACKEND_API=true\n\"\nOTHER=1\n",
    b"LIST[0]='a\nNEXT_PUBLIC_USE_BACKEND_API=true\n'\nBACKEND_API_ROLLOUT_PERCENT=50\n",
    b"URL: http://example.com\nNEXT_PUBLIC_USE_BACKEND_API=true\nBACKEND_API_ROLLOUT_PERCENT=50\n",
    b"NEXT_PUBLIC_USE_BACKEND_API: true\nOTHER=1\n",
    b"A=1\rNEXT_PUBLIC_USE_BACKEND_API=true\rBACKEND_API_ROLLOUT_PERCENT=5\r",
    b"export NEXT_PUBLIC_USE_BACKEND_API=true\nexport BACKEND_API_ROLLOUT_PERCENT='100'\nDOLLAR=$HOME\nREF=${A}\n",
]
EXTRA_TOKENS = [b": ", b"\nCERT: \"", b"\nCL\xc3\x89[0]='", b"\n" + KEY.encode() + b": 1\n", b"\r", b"'", b'"']


def mutations(rng, count):
    """fuzz_cli's mutated inputs, then the extra seeds, whole and mutated."""
    yield from env_inputs(rng, count)
    for seed in EXTRA_SEEDS:
        yield seed
    for _ in range(count // 3):
        data = bytearray(rng.choice(EXTRA_SEEDS + ENV_SEEDS))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            data[at:at] = rng.choice(EXTRA_TOKENS)
        yield bytes(data)


def python_reads(data):
    """python-dotenv's values (interpolation off; a BOM skipped; bytes that are not UTF-8 kept as
    surrogates, so that a file python would refuse to open is still compared)."""
    text = data.decode("utf-8", "surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    return dict(dotenv_values(stream=io.StringIO(text), interpolate=False))


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("RELIABILITY_PARITY_ENVS", "300"))
    seed = int(os.environ.get("RELIABILITY_SEED", str(int(time.time()))))
    results = Results("dotenv parity")
    if dotenv_values is None:
        results.record(False, "python-dotenv is installed", "import dotenv failed: install python3-dotenv")
        results.exit()
    logging.getLogger("dotenv.main").setLevel(logging.CRITICAL)  # its "could not parse" warnings
    rng = random.Random(seed)
    base = temp_dir("parity")
    env_path = os.path.join(base, "app", ".env")
    os.makedirs(os.path.dirname(env_path))
    runbook = os.path.join(base, "rollback.yaml")
    with open(runbook, "w") as handle:
        handle.write(f"version: 1\nname: parity\nenvironments: {{local: {{}}}}\nflags:\n"
                     f"  f: {{key: {KEY}, percent_key: {PERCENT_KEY}, stages: [0, 10, 50, 100], files: [\"{env_path}\"]}}\n"
                     "levels:\n  1:\n    steps:\n      - {id: off, flag: {name: f, set: disabled}}\n")
    state = os.path.join(base, "state")
    log(f"python-dotenv against `rollback flag` ({binary()}): {count} mutated inputs and the seeds, seed {seed}")
    actions = [(["disable"], KEY, "false"), (["enable"], KEY, "true"), (["percent", "10"], PERCENT_KEY, "10")]
    cases = edits = refusals = 0
    disagreements = []
    for index, data in enumerate(mutations(rng, count)):
        before = python_reads(data)
        for args, key, value in actions:
            cases += 1
            with open(env_path, "wb") as handle:
                handle.write(data)
            status, _out, err, _s = rollback(["flag"] + args + ["--runbook", runbook, "--state-dir", state], timeout=10)
            after_bytes = read_bytes(env_path)
            shutil.rmtree(os.path.join(state, "backups"), ignore_errors=True)
            problem = None
            if status == 1:
                refusals += 1
                if after_bytes != data:
                    problem = "refused, but the file changed"
            elif status != 0:
                problem = f"exit {status}: {err.strip()[:160]!r}"
            else:
                edits += 1
                after = python_reads(after_bytes)
                if after.get(key) != value:
                    problem = f"python-dotenv reads {key}={after.get(key)!r}, not {value!r}"
                else:
                    changed = [k for k in before if k != key and after.get(k) != before[k]]
                    changed += [k for k in after if k != key and k not in before]
                    if changed:
                        k = changed[0]
                        problem = f"python-dotenv now reads {k}={after.get(k)!r}, was {before.get(k)!r}"
            if problem:
                disagreements.append(f"#{index} flag {' '.join(args)}: {problem} in {data[:100]!r}")
                with open(os.path.join(base, f"disagree-{index}.env"), "wb") as handle:
                    handle.write(data)
    results.record(
        not disagreements,
        "every `rollback flag` edit reads the same for python-dotenv: the new value for the key, every other key as before",
        f"{cases} cases: {edits} edits, "
        f"{refusals} refusals with the file untouched, {len(disagreements)} disagreements"
        + (f": {disagreements[:4]}" if disagreements else ""))
    for line in disagreements[:40]:
        log("    " + line)
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base}")
    results.exit()


if __name__ == "__main__":
    main()
