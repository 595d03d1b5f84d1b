#!/usr/bin/env python3
"""Item 6, secrets: planted secrets never show in output, journals, reports or file names.

Planted, each a distinctive random string:
  - a PostgreSQL password in DATABASE_URL (a role created for this check);
  - a Prometheus bearer token in PROM_TOKEN (`token_env: PROM_TOKEN` added to a copy of the
    Atom runbook's `local` environment); Prometheus is reached through a loopback proxy run
    here, which records that the token is really sent (Prometheus itself ignores it);
  - a Slack webhook URL whose path holds the secret, pointing at a loopback sink run here;
  - a PagerDuty routing key, a Grafana token and an Alertmanager token (`notify:` pagerduty,
    grafana and alertmanager added to the copy, pointing at the sink), sent with every run's
    change events, alert events and annotations.
Then every command runs, with failures: validate, plan, assess, execute --dry-run, execute,
report (markdown and JSON), history, flag status/disable --dry-run/enable/disable, drill with
JUnit, an execution killed with SIGKILL and resume; a wrong database password, a Prometheus
that answers 401 echoing the Authorization header, Slack answering 500 and Slack unreachable,
a failing step. No stdout, stderr, journal, report, backup, saved assessment, JUnit file or
file name under the state directory may contain any planted value, nor its lower-cased or
JSON-escaped form.

Also: `--var` overrides whose names are secret by the one rule (DB_PASSWD, AUTH_HEADER, the
latter holding a quote, a slash and a backslash) are planted in an execution and in the
killed one; its resume without them exits 2 naming them, with them it completes; and with
MONKEY_MODE=false exported (not a secret: "KEY" is not a word of it) no flag line is masked.
"""

import http.server
import json
import os
import secrets
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request

from common import (ATOM, LEVEL3_STEPS, Harness, Results, files_under, free_port, journal_events, journals, log,
                    read_bytes, rollback, spawn, temp_dir, write)


class Sink(http.server.ThreadingHTTPServer):
    daemon_threads = True


def make_handler(prom_url, record):
    class Handler(http.server.BaseHTTPRequestHandler):
        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _answer(self, status, body, content_type="text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self, method):
            body = self._body()
            record.append({"method": method, "path": self.path, "auth": self.headers.get("Authorization"),
                           "body": body.decode("utf-8", "replace")})
            if self.path.startswith("/services/"):
                return self._answer(200, b"ok")
            if self.path.startswith("/pd/"):
                # PagerDuty's answer; a careless service echoing the routing key back.
                return self._answer(202, json.dumps({"status": "success", "message": body.decode("utf-8", "replace"),
                                                     "dedup_key": "k1"}).encode(), "application/json")
            if self.path.startswith("/grafana/"):
                return self._answer(200, b'{"id": 7}', "application/json")
            if self.path.startswith("/am/"):
                return self._answer(200, b'{"silenceID": "s1"}', "application/json")
            if self.path.startswith("/fail/"):
                return self._answer(500, b"internal error for " + self.path.encode())
            if self.path.startswith("/reflect/"):
                # A misconfigured proxy that echoes the credentials it was given.
                echo = f"unauthorized: got {self.headers.get('Authorization')} for {self.path}".encode()
                return self._answer(401, echo)
            # Anything else: forward to the real Prometheus.
            request = urllib.request.Request(prom_url + self.path, data=body if method == "POST" else None,
                                             method=method)
            if self.headers.get("Content-Type"):
                request.add_header("Content-Type", self.headers["Content-Type"])
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return self._answer(answer.status, answer.read(), answer.headers.get("Content-Type", "application/json"))
            except urllib.error.HTTPError as error:
                return self._answer(error.code, error.read())
            except OSError as error:
                return self._answer(502, str(error).encode())

        def do_GET(self):
            self.handle_any("GET")

        def do_POST(self):
            self.handle_any("POST")

        def do_PATCH(self):
            self.handle_any("PATCH")

        def do_DELETE(self):
            self.handle_any("DELETE")

        def log_message(self, *_args):
            pass

    return Handler


def main():
    harness = Harness()
    results = Results("6 secrets")
    base = temp_dir("secrets")
    pg_secret = "PgPw" + secrets.token_hex(10)
    wrong_pg_secret = "WrongPw" + secrets.token_hex(10)
    prom_secret = "PromTok" + secrets.token_hex(10)
    slack_secret = "Hook" + secrets.token_hex(10)
    fail_secret = "FailHook" + secrets.token_hex(10)
    gone_secret = "GoneHook" + secrets.token_hex(10)
    var_secret = "VarPw" + secrets.token_hex(10)
    header_secret = 'Hdr"/\\' + secrets.token_hex(10)
    pd_secret = "PdKey" + secrets.token_hex(10)
    grafana_secret = "GfTok" + secrets.token_hex(10)
    am_secret = "AmTok" + secrets.token_hex(10)
    planted = {"--var DB_PASSWD": var_secret, "--var AUTH_HEADER": header_secret,
               "PostgreSQL password": pg_secret, "wrong PostgreSQL password": wrong_pg_secret,
               "Prometheus token": prom_secret, "Slack webhook": slack_secret, "failing Slack webhook": fail_secret,
               "unreachable Slack webhook": gone_secret, "PagerDuty routing key": pd_secret,
               "Grafana token": grafana_secret, "Alertmanager token": am_secret}

    role_made = harness.psql(f"DROP ROLE IF EXISTS rbsecret; CREATE ROLE rbsecret LOGIN PASSWORD '{pg_secret}'")[0] == 0
    database_url = f"postgresql://rbsecret:{pg_secret}@127.0.0.1:{harness.pg_port}/rollback_test"
    wrong_database_url = f"postgresql://rbsecret:{wrong_pg_secret}@127.0.0.1:{harness.pg_port}/rollback_test"

    record = []
    sink_port = free_port()
    sink = Sink(("127.0.0.1", sink_port), make_handler(harness.prom_url, record))
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    proxy_url = f"http://127.0.0.1:{sink_port}"
    webhook = f"{proxy_url}/services/T000/B000/{slack_secret}"
    closed_port = free_port()

    # The Atom runbook with a Prometheus token in its local environment.
    text = open(ATOM, encoding="utf-8").read()
    anchor = '      url: "${env.ROLLBACK_PROM_URL:-http://127.0.0.1:9090}"\n'
    assert anchor in text, "the local environment's prometheus url line moved"
    runbook = os.path.join(base, "atom-with-token.yaml")
    slack_line = '  slack: {webhook_env: SLACK_WEBHOOK_URL, channel: "#incident-response"}\n'
    assert slack_line in text, "the notify section's slack line moved"
    oncall = (f'  pagerduty: {{routing_key_env: ONCALL_ROUTING, url: "{proxy_url}/pd"}}\n'
              f'  grafana: {{url: "{proxy_url}/grafana", token_env: ONCALL_GF}}\n'
              f'  alertmanager: {{url: "{proxy_url}/am", token_env: ONCALL_AM}}\n')
    write(runbook, text.replace(anchor, anchor + "      token_env: PROM_TOKEN\n").replace(slack_line, slack_line + oncall))
    state = os.path.join(base, "state")
    env = harness.runbook_env(DATABASE_URL=database_url, PROM_TOKEN=prom_secret, ROLLBACK_PROM_URL=proxy_url,
                              SLACK_WEBHOOK_URL=webhook, ONCALL_ROUTING=pd_secret, ONCALL_GF=grafana_secret,
                              ONCALL_AM=am_secret)
    common = ["--runbook", runbook, "--env", "local", "--state-dir", state]
    junit = os.path.join(state, "junit.xml")
    outputs = []   # (label, status, text)

    def go(label, args, extra_env=None, timeout=240):
        full_env = dict(env)
        full_env.update(extra_env or {})
        status, out, err, seconds = rollback(args, env=full_env, timeout=timeout)
        outputs.append((label, status, out + "\n" + err))
        log(f"  ran {label}: exit {status} ({seconds:.1f}s)")
        return status, out, err

    harness.set_flag_files("true")
    go("validate", ["validate", "--runbook", runbook])
    go("plan --level 3", ["plan", "--level", "3"] + common)
    go("plan --json", ["plan", "--level", "3", "--json"] + common)
    go("plan --scenario", ["plan", "--scenario", "connection-pool-exhausted"] + common)
    go("assess", ["assess"] + common)
    go("assess --json", ["assess", "--json"] + common)
    go("execute --dry-run", ["execute", "--level", "3", "--dry-run"] + common)
    go("execute --dry-run --json", ["execute", "--level", "3", "--dry-run", "--json"] + common)
    go("execute --level 3", ["execute", "--level", "3", "--yes", "--json"] + common)
    go("report", ["report"] + common)
    go("report --format json", ["report", "--format", "json"] + common)
    go("report --message", ["report", "--message"] + common)
    go("history", ["history"] + common)
    go("history --json", ["history", "--json"] + common)
    go("flag status", ["flag", "status"] + common)
    go("flag enable --dry-run", ["flag", "enable", "--dry-run", "backend-api"] + common)
    go("flag enable", ["flag", "enable", "backend-api", "--yes"] + common)
    go("flag disable", ["flag", "disable", "backend-api", "--yes"] + common)
    go("flag percent --json", ["flag", "percent", "50", "backend-api", "--json"] + common)
    go("flag percent 100", ["flag", "percent", "100", "backend-api"] + common)
    go("drill --level 3", ["drill", "--level", "3", "--yes", "--junit", junit] + common)
    # An execution killed with SIGKILL after its flag step, then resumed.
    harness.set_flag_files("true")
    resume_state = os.path.join(base, "resume-state")
    resume_common = ["--runbook", runbook, "--env", "local", "--state-dir", resume_state]
    secret_vars = ["--var", f"DB_PASSWD={var_secret}", "--var", f"AUTH_HEADER=Basic svc:{header_secret}"]
    process = spawn(["execute", "--level", "3", "--yes"] + secret_vars + resume_common, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if any(e.get("event") == "step-finished" and e.get("id") == "disable-flag"
               for path in journals(resume_state) for e in journal_events(path)):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait()
    go("resume after kill -9 without the secret --var", ["resume", "--yes"] + resume_common)
    go("resume after kill -9", ["resume", "--yes"] + secret_vars + resume_common)
    go("report of the resumed run", ["report"] + resume_common)
    # Failures.
    go("assess, wrong database password", ["assess", "--json"] + common, {"DATABASE_URL": wrong_database_url})
    go("execute scenario, wrong database password",
       ["execute", "--scenario", "connection-pool-exhausted", "--yes"] + common, {"DATABASE_URL": wrong_database_url})
    go("assess, Prometheus echoing the token in a 401", ["assess"] + common,
       {"ROLLBACK_PROM_URL": f"{proxy_url}/reflect/{prom_secret[:4]}"})
    go("assess, Prometheus unreachable", ["assess", "--json"] + common,
       {"ROLLBACK_PROM_URL": f"http://127.0.0.1:{closed_port}"})
    go("execute, Slack answers 500", ["execute", "--level", "3", "--yes", "--from", "notify-rollback-complete"] + common,
       {"SLACK_WEBHOOK_URL": f"{proxy_url}/fail/{fail_secret}"})
    go("execute, Slack unreachable", ["execute", "--level", "3", "--yes", "--from", "notify-rollback-complete"] + common,
       {"SLACK_WEBHOOK_URL": f"http://127.0.0.1:{closed_port}/services/T/B/{gone_secret}"})
    go("execute, a failing step", ["execute", "--level", "3", "--yes", "--from", "verify-register",
                                   "--var", f"base_url=http://127.0.0.1:{closed_port}"] + common)
    go("report of the failed run", ["report"] + common)
    go("execute with secret --var overrides and MONKEY_MODE=false",
       ["execute", "--level", "3", "--yes", "--from", "notify-rollback-complete"] + secret_vars + common,
       {"MONKEY_MODE": "false"})
    harness.set_flag_files("true")
    go("flag disable with MONKEY_MODE=false", ["flag", "disable", "backend-api", "--yes"] + common,
       {"MONKEY_MODE": "false"})
    go("history after failures", ["history"] + common)
    go("execute, database unreachable by name",
       ["execute", "--scenario", "connection-pool-exhausted", "--yes"] + common,
       {"DATABASE_URL": f"postgresql://rbsecret:{pg_secret}@db.invalid:5432/rollback_test"})

    sink.shutdown()
    sink.server_close()
    harness.psql("DROP ROLE IF EXISTS rbsecret")

    # Where the secrets were used (so that the check is not vacuous).
    slack_posts = sum(1 for r in record if r["method"] == "POST" and slack_secret in r["path"])
    failed_posts = sum(1 for r in record if fail_secret in r["path"])
    token_sent = sum(1 for r in record if r["auth"] == f"Bearer {prom_secret}")
    pd_events = sum(1 for r in record if r["path"].startswith("/pd/") and pd_secret in r["body"])
    grafana_calls = sum(1 for r in record if r["path"].startswith("/grafana/") and r["auth"] == f"Bearer {grafana_secret}")
    statuses = {label: status for label, status, _t in outputs}
    exercised = (role_made and slack_posts >= 1 and failed_posts >= 1 and token_sent >= 1 and pd_events >= 2
                 and grafana_calls >= 2
                 and statuses.get("execute --level 3") == 0 and statuses.get("resume after kill -9") == 0
                 and statuses.get("execute, a failing step") == 1
                 and statuses.get("resume after kill -9 without the secret --var") == 2
                 and statuses.get("execute with secret --var overrides and MONKEY_MODE=false") == 0
                 and statuses.get("execute scenario, wrong database password") == 1)
    results.record(
        exercised, "the planted secrets are really used by the runs",
        f"{len(outputs)} commands; Slack sink got {slack_posts} posts on the secret path (+{failed_posts} answered 500), "
        f"the proxy saw the bearer token on {token_sent} Prometheus queries, {pd_events} PagerDuty events with the "
        f"routing key, {grafana_calls} Grafana calls with the token, PostgreSQL role with the planted password "
        f"{'created' if role_made else 'NOT created'}; exits: "
        + ", ".join(f"{label} {status}" for label, status in list(statuses.items())[:0]) +
        f"execute {statuses.get('execute --level 3')}, resume {statuses.get('resume after kill -9')}, "
        f"failing step {statuses.get('execute, a failing step')}, wrong password {statuses.get('execute scenario, wrong database password')}")

    # Resume named each missing secret; MONKEY_MODE=false hid nothing.
    refused = next((text for label, _s, text in outputs if label == "resume after kill -9 without the secret --var"), "")
    monkey = [text for label, _s, text in outputs if "MONKEY_MODE" in label]
    results.record(
        "DB_PASSWD" in refused and "AUTH_HEADER" in refused and "-> false" in "".join(monkey)
        and not any("-> ****" in text or "**** ->" in text for _l, _s, text in outputs),
        "resume names each missing secret --var; a name merely containing KEY (MONKEY_MODE) is not secret",
        f"resume without them: {refused.strip()[-200:]!r}; flag lines with MONKEY_MODE=false exported: "
        f"{[line for text in monkey for line in text.splitlines() if '->' in line][:2]}")

    # Each secret also in the forms a server or a journal may give it: lower-cased, JSON-escaped.
    forms = {}
    for name, value in planted.items():
        escaped = json.dumps(value)[1:-1]
        forms[name] = {value, value.lower(), escaped, escaped.replace("/", "\\/")}
    leaks = []
    scanned_files = 0
    for label, _status, output in outputs:
        for name, values in forms.items():
            if any(value in output for value in values):
                leaks.append(f"{name} in the output of {label}")
    for directory in (state, resume_state):
        for path in files_under(directory):
            scanned_files += 1
            relative = os.path.relpath(path, base)
            data = read_bytes(path)
            for name, value in planted.items():
                if value in relative:
                    leaks.append(f"{name} in the file name {relative}")
                if any(form.encode() in data for form in forms[name]):
                    leaks.append(f"{name} in {relative}")
    # Partial forms: the webhook path and the DSN without their secrets are fine, but not
    # the secret's halves (a truncation that kept half of it would still leak).
    for label, _status, output in outputs:
        for name, value in planted.items():
            if value[-12:] in output:
                leaks.append(f"part of the {name} in the output of {label}")
    results.record(
        not leaks, "no output, journal, report, backup or file name contains a planted secret",
        f"{len(planted)} planted values searched in the stdout and stderr of {len(outputs)} commands and in "
        f"{scanned_files} files under the state directories (journals, backups, assessments, JUnit): "
        f"{len(leaks)} occurrences" + (f": {leaks[:6]}" if leaks else ""))
    if not results.failed:
        shutil.rmtree(base, ignore_errors=True)
    else:
        log(f"  kept {base}")
    harness.reset_app("false")
    results.exit()


if __name__ == "__main__":
    main()
