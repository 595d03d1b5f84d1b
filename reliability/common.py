"""Shared helpers of the reliability suite (reliability/run drives it).

Every check records one result line in $RELIABILITY_RESULTS:
    PASS|FAIL <TAB> item <TAB> check <TAB> figure
and prints it as it goes. The driver sums them up.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATOM = os.path.join(ROOT, "runbooks", "frontend-backend-migration.yaml")
LEVEL3_STEPS = [
    "identify-issue", "disable-flag", "restart-frontend", "verify-flag-served", "verify-register",
    "wait-error-rate", "notify-rollback-complete", "page-oncall",
]
FLAG_FILES = [".env.local", ".env.production", ".env"]
FLAG_KEY = "NEXT_PUBLIC_USE_BACKEND_API"


def binary():
    """The rollback binary: $ROLLBACK_BIN, else the release build, else the debug one."""
    explicit = os.environ.get("ROLLBACK_BIN")
    if explicit:
        return explicit
    for kind in ("release", "debug"):
        path = os.path.join(ROOT, ".build", kind, "rollback")
        if os.access(path, os.X_OK):
            return path
    raise SystemExit("no rollback binary: run `swift build -c release` first")


def log(text):
    print(text, flush=True)


class Results:
    """Collects PASS/FAIL lines for one item."""

    def __init__(self, item):
        self.item = item
        self.path = os.environ.get("RELIABILITY_RESULTS")
        self.failed = 0

    def record(self, ok, check, figure=""):
        status = "PASS" if ok else "FAIL"
        if not ok:
            self.failed += 1
        figure = " ".join(str(figure).split())
        log(f"  {'ok    ' if ok else 'FAILED'} {check}{': ' + figure if figure else ''}")
        if self.path:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(f"{status}\t{self.item}\t{check}\t{figure}\n")
        return ok

    def exit(self):
        sys.exit(1 if self.failed else 0)


def run(argv, env=None, cwd=None, timeout=120, stdin=subprocess.DEVNULL, user=None):
    """Runs a command; returns (status, stdout, stderr, seconds)."""
    full_env = dict(os.environ)
    full_env["NO_COLOR"] = "1"
    if env:
        full_env.update(env)
    if user:
        argv = ["runuser", "-u", user, "--"] + list(argv)
    started = time.monotonic()
    try:
        done = subprocess.run(argv, env=full_env, cwd=cwd or ROOT, stdin=stdin, capture_output=True,
                              timeout=timeout)
        status = done.returncode
        out, err = done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        status = "timeout"
        out, err = expired.stdout or b"", expired.stderr or b""
    return (status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            time.monotonic() - started)


def rollback(args, **kwargs):
    return run([binary()] + list(args), **kwargs)


def spawn(args, env=None, cwd=None, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
    full_env = dict(os.environ)
    full_env["NO_COLOR"] = "1"
    if env:
        full_env.update(env)
    return subprocess.Popen([binary()] + list(args), env=full_env, cwd=cwd or ROOT, stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=stderr)


def temp_dir(tag):
    base = os.environ.get("RELIABILITY_TMP") or tempfile.gettempdir()
    return tempfile.mkdtemp(prefix=f"rollback-rel-{tag}-", dir=base)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write(path, text, mode=None):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    if mode is not None:
        os.chmod(path, mode)


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def journal_events(path):
    events = []
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return events
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def step_id(event):
    """The step of a journal event (step-started names it `step`, step-finished `id`)."""
    return event.get("step") or event.get("id")


def journals(state):
    runs = os.path.join(state, "runs")
    try:
        return sorted(os.path.join(runs, name) for name in os.listdir(runs) if name.endswith(".jsonl"))
    except FileNotFoundError:
        return []


def files_under(directory):
    """Every regular file under a directory (paths)."""
    found = []
    for top, _dirs, names in os.walk(directory):
        for name in names:
            found.append(os.path.join(top, name))
    return found


class Harness:
    """The real services of scripts/harness (see docs/CONTRACTS-dev.md)."""

    def __init__(self):
        env = os.environ
        missing = [name for name in ("ROLLBACK_HARNESS_DIR", "ROLLBACK_TEST_APP_DIR", "ROLLBACK_TEST_APP_URL",
                                     "ROLLBACK_TEST_PROM_URL", "ROLLBACK_TEST_SUPERVISOR_CONF",
                                     "ROLLBACK_TEST_DATABASE_URL") if not env.get(name)]
        if missing:
            raise SystemExit(f"harness variables missing ({', '.join(missing)}): run under scripts/harness/with-harness")
        self.dir = env["ROLLBACK_HARNESS_DIR"]
        self.app_dir = env["ROLLBACK_TEST_APP_DIR"]
        self.app_url = env["ROLLBACK_TEST_APP_URL"]
        self.prom_url = env["ROLLBACK_TEST_PROM_URL"]
        self.supervisor_conf = env["ROLLBACK_TEST_SUPERVISOR_CONF"]
        self.database_url = env["ROLLBACK_TEST_DATABASE_URL"]
        self.pg_port = env.get("ROLLBACK_TEST_PG_PORT", "")
        self.pg_password = env.get("ROLLBACK_TEST_PG_PASSWORD", "")

    def runbook_env(self, **extra):
        env = {
            "ROLLBACK_APP_DIR": self.app_dir, "ROLLBACK_APP_URL": self.app_url, "ROLLBACK_PROM_URL": self.prom_url,
            "ROLLBACK_SUPERVISOR_CONF": self.supervisor_conf, "DATABASE_URL": self.database_url,
            "SLACK_WEBHOOK_URL": "",
        }
        env.update(extra)
        return env

    def file(self, name):
        return os.path.join(self.app_dir, name)

    def set_flag_files(self, value):
        """Sets the flag to `value` in every flag file by a plain text edit (no restart)."""
        for name in FLAG_FILES:
            path = self.file(name)
            text = open(path, encoding="utf-8").read()
            for old in ("true", "false"):
                text = text.replace(f"{FLAG_KEY}={old}\n", f"{FLAG_KEY}={value}\n")
            for percent in ("0", "10", "50"):
                text = text.replace(f"BACKEND_API_ROLLOUT_PERCENT={percent}\n", "BACKEND_API_ROLLOUT_PERCENT=100\n")
            tmp = path + ".reltmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)

    def health(self):
        status, out, _err, _t = run(["curl", "-s", "--max-time", "2", self.app_url + "/api/health"])
        try:
            return json.loads(out)
        except ValueError:
            return {}

    def restart_frontend(self):
        run(["supervisorctl", "-c", self.supervisor_conf, "restart", "frontend"])

    def reset_app(self, flag="true"):
        """Flag files to `flag`, no .unhealthy marker, frontend restarted and healthy."""
        self.set_flag_files(flag)
        try:
            os.remove(self.file(".unhealthy"))
        except FileNotFoundError:
            pass
        self.restart_frontend()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.health().get("backend_api") == flag:
                return True
            time.sleep(0.2)
        return False

    def frontend_starts(self):
        with open(os.path.join(self.dir, "logs", "supervisord.log"), encoding="utf-8", errors="replace") as handle:
            return handle.read().count("spawned: 'frontend'")

    def query(self, expression, url=None):
        status, out, _err, _t = run(["curl", "-s", "--max-time", "2", "--data-urlencode", f"query={expression}",
                                     (url or self.prom_url) + "/api/v1/query"])
        try:
            result = json.loads(out)["data"]["result"]
            return float(result[0]["value"][1])
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    def psql(self, sql, url=None):
        return run(["psql", url or self.database_url, "-XqtAc", sql])


def kill_group_quietly(process):
    try:
        process.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
