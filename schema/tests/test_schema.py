#!/usr/bin/env python3
"""Checks schema/runbook-v1.schema.json with a real JSON Schema validator.

- The schema itself is a valid draft-07 schema.
- Every runbook in runbooks/ and runbooks/examples/ validates; both seed runbooks start
  with the yaml-language-server modeline.
- Broken runbooks (unknown keys, a bad step kind, two kinds in one step, a wrong
  version, missing levels, ...) are rejected, and alternative spellings the format
  allows are accepted.
- When a rollback binary is at hand (ROLLBACK_BIN, else .build/debug/rollback, else
  .build/release/rollback), `rollback validate` agrees on every one of those cases, so
  the schema and the tool cannot drift apart unnoticed.

Needs python3-jsonschema and python3-yaml (make deps). Run: make schema-test.
"""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = ROOT / "schema" / "runbook-v1.schema.json"
MODELINE = "# yaml-language-server: $schema=../schema/runbook-v1.schema.json"


class CoreLoader(yaml.SafeLoader):
    """YAML 1.2 core-schema scalars, as editors (yaml-language-server) read them: only
    true/false are booleans (not yes/no/on/off), no timestamps, no sexagesimal numbers."""


CoreLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag
        not in (
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:timestamp",
        )
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def as_json(value):
    """The document as a JSON Schema validator sees it: every mapping key is a string
    (a YAML level key `3` is the JSON property "3")."""
    if isinstance(value, dict):
        return {
            (json.dumps(key) if isinstance(key, bool) else str(key)): as_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value


def load_yaml(text):
    return yaml.load(text, Loader=CoreLoader)


def find_binary():
    candidates = [os.environ.get("ROLLBACK_BIN", "")]
    candidates += [str(ROOT / ".build" / "debug" / "rollback"), str(ROOT / ".build" / "release" / "rollback")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)
BINARY = find_binary()


def schema_errors(document):
    return sorted(
        VALIDATOR.iter_errors(as_json(document)),
        key=lambda error: (list(error.absolute_path), error.message),
    )


def describe(errors, limit=5):
    lines = [
        f"  at /{'/'.join(str(part) for part in error.absolute_path)}: {error.message[:300]}"
        for error in errors[:limit]
    ]
    if len(errors) > limit:
        lines.append(f"  ... and {len(errors) - limit} more")
    return "\n".join(lines)


def tool_validate(document):
    """(exit status, output) of `rollback validate` on the document, or None without a binary."""
    if BINARY is None:
        return None
    with tempfile.TemporaryDirectory(prefix="rollback-schema-test.") as directory:
        path = Path(directory) / "rollback.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        result = subprocess.run(
            [BINARY, "validate", "--runbook", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=directory,
        )
        return result.returncode, (result.stdout + result.stderr).strip()


# A small runbook that uses most of the format; each case below changes one thing.
BASE = load_yaml(
    """
version: 1
name: tiny
description: A small runbook for the schema tests.
default_environment: local
environments:
  local:
    vars: {app_dir: /tmp/app, base_url: "http://127.0.0.1:3000"}
    prometheus: {url: "http://127.0.0.1:9090", timeout: 2s}
    postgres: {dsn_env: DATABASE_URL}
flags:
  feature:
    key: USE_FEATURE
    files: ["${app_dir}/.env"]
    enabled: "true"
    disabled: "false"
    percent_key: FEATURE_PERCENT
    stages: [0, 50, 100]
    service: web
services:
  web:
    restart: ["true"]
    timeout: 30s
    health:
      http: {url: "${base_url}/health", expect_status: 200}
      within: 10s
      interval: 1s
signals:
  errors: {prometheus: "rate(errors_total[1m])", unit: ratio, reduce: sum}
  db_up: {postgres: SELECT 1}
  complaints: {manual: true, default: 0}
decision:
  - severity: critical
    label: P0
    symptoms: ["Errors > 5%"]
    any: ["errors > 5%", "db_up != 1"]
    action: {level: 1}
    respond_within: 5m
  - severity: low
    all: ["errors > 0.1%"]
    action: monitor
decision_on_unknown: inconclusive
levels:
  1:
    name: Flag off
    description: Turn the feature off.
    target: 1m
    steps:
      - {id: look, check: [errors]}
      - {id: disable, flag: {name: feature, set: disabled}}
      - {id: bounce, restart: web, timeout: 20s}
      - {id: settle, wait: "errors < 0.1%", within: 1m, interval: 5s, consecutive: 2}
      - {id: tell, notify: "Feature off.", on_failure: continue}
scenarios:
  web-down:
    title: Web down
    symptoms: ["No answer"]
    causes: ["A crash"]
    target: 5m
    steps:
      - {id: gate, confirm: "Roll back?"}
      - {id: rollback, include: level 1}
notify:
  slack: {webhook_env: SLACK_WEBHOOK_URL, channel: "#incidents"}
  stdout: true
contacts:
  - {role: On-call, name: Ada, slack: "@ada", phone: "+1 555 0100"}
"""
)


def step(document, index=0, level="1"):
    levels = document["levels"]
    key = next(k for k in levels if str(k) == level)
    return levels[key]["steps"][index]


def mutated(change):
    document = copy.deepcopy(BASE)
    change(document)
    return document


def _set(path, value):
    def change(document):
        target = document
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _delete(*path):
    def change(document):
        target = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


def _replace_step(new_step):
    def change(document):
        steps = document["levels"][1]["steps"]
        steps[0] = new_step

    return change


def _fleet(document):
    """The base runbook on three hosts: web runs on group web, level 1 has a rolling step."""
    document["environments"]["local"].update(
        {
            "ssh": {"options": ["-o", "ConnectTimeout=5"], "forks": 5, "lock_dir": "/run/lock"},
            "hosts": {
                "web-1": {"ssh": "web-1"},
                "web-2": {"ssh": "deploy@web-2.internal", "vars": {"app_dir": "/srv/app"}},
                "web-3": {"ssh": "web-3", "address": "10.0.0.3"},
            },
            "groups": {"web": ["web-1", "web-2", "web-3"], "canary": ["web-1"]},
        }
    )
    document["services"]["web"]["hosts"] = "web"
    document["services"]["web"]["health"]["http"]["url"] = "http://${host.address}:3000/health"
    document["services"]["web"]["health"]["via"] = "host"
    document["levels"][1]["steps"][1:3] = [
        {
            "id": "roll",
            "rolling": {
                "on": "web",
                "batches": [1, "50%", "100%"],
                "max_fail": 0,
                "pause": "5s",
                "gate": "errors < 1%",
                "order": "listed",
                "steps": [
                    {"flag": {"name": "feature", "set": "disabled"}},
                    {"restart": "web"},
                    {"id": "mark", "run": ["logger", "off on ${host.name}"], "once": True},
                ],
            },
        },
        {"id": "cache", "run": ["rm", "-rf", "${app_dir}/cache"], "on": ["canary", "web-3"]},
    ]


def _fleet_with(change):
    def apply(document):
        _fleet(document)
        change(document)

    return apply


def _rolling(document):
    return step(document, 1)["rolling"]


# name -> change; the schema and `rollback validate` must both reject the result.
REJECTED = {
    "fleet: unknown key in a host": _fleet_with(
        lambda d: d["environments"]["local"]["hosts"]["web-1"].__setitem__("user", "deploy")
    ),
    "fleet: host without ssh": _fleet_with(lambda d: d["environments"]["local"]["hosts"].__setitem__("web-4", {})),
    "fleet: host name with a space": _fleet_with(
        lambda d: d["environments"]["local"]["hosts"].__setitem__("web 4", {"ssh": "web-4"})
    ),
    "fleet: groups without hosts": lambda d: d["environments"]["local"].__setitem__("groups", {"web": ["web-1"]}),
    "fleet: unknown ssh key": _fleet_with(lambda d: d["environments"]["local"]["ssh"].__setitem__("port", 22)),
    "fleet: forks zero": _fleet_with(lambda d: d["environments"]["local"]["ssh"].__setitem__("forks", 0)),
    "fleet: batch of zero": _fleet_with(lambda d: _rolling(d).__setitem__("batches", [0, "100%"])),
    "fleet: batch over 100%": _fleet_with(lambda d: _rolling(d).__setitem__("batches", [1, "150%"])),
    "fleet: empty batches": _fleet_with(lambda d: _rolling(d).__setitem__("batches", [])),
    "fleet: max_fail 100%": _fleet_with(lambda d: _rolling(d).__setitem__("max_fail", "100%")),
    "fleet: rolling without steps": _fleet_with(lambda d: _rolling(d).__delitem__("steps")),
    "fleet: rolling without on": _fleet_with(lambda d: _rolling(d).__delitem__("on")),
    "fleet: unknown key in rolling": _fleet_with(lambda d: _rolling(d).__setitem__("serial", 2)),
    "fleet: check inside rolling": _fleet_with(lambda d: _rolling(d)["steps"].append({"check": ["errors"]})),
    "fleet: notify inside rolling": _fleet_with(lambda d: _rolling(d)["steps"].append({"notify": "hi"})),
    "fleet: on inside rolling": _fleet_with(lambda d: _rolling(d)["steps"][2].__setitem__("on", "web")),
    "fleet: on on a flag step": _fleet_with(
        lambda d: d["levels"][1]["steps"].append({"flag": {"name": "feature", "set": "enabled"}, "on": "web"})
    ),
    "fleet: health via a proxy": _fleet_with(lambda d: d["services"]["web"]["health"].__setitem__("via", "proxy")),
    "fleet: relative lock_dir": _fleet_with(
        lambda d: d["environments"]["local"]["ssh"].__setitem__("lock_dir", "locks")
    ),
    "fleet: unknown order": _fleet_with(lambda d: _rolling(d).__setitem__("order", "random")),
    "fleet: flag with service and hosts": _fleet_with(lambda d: d["flags"]["feature"].__setitem__("hosts", "web")),

    "unknown top-level key": _set(["owner"], "team-x"),
    "misspelt top-level key (signal)": lambda d: d.__setitem__("signal", d.pop("signals")),
    "unknown key in a step (retry)": lambda d: step(d).__setitem__("retry", 3),
    "unknown key in an environment": lambda d: d["environments"]["local"].__setitem__(
        "promethus", {"url": "http://x"}
    ),
    "unknown key in a flag": lambda d: d["flags"]["feature"].__setitem__("default", "true"),
    "unknown key in a service": lambda d: d["services"]["web"].__setitem__("stop", ["true"]),
    "unknown key in a signal": lambda d: d["signals"]["errors"].__setitem__("query", "x"),
    "unknown key in a decision rule": lambda d: d["decision"][0].__setitem__("when", "errors > 1"),
    "unknown key in a level": lambda d: d["levels"][1].__setitem__("owner", "me"),
    "unknown step kind (reboot)": _replace_step({"id": "x", "reboot": "web"}),
    "two kinds in one step": _replace_step({"id": "x", "check": ["errors"], "assert": "errors < 1"}),
    "step without a kind": _replace_step({"id": "x", "name": "nothing to do"}),
    "wrong version": _set(["version"], 2),
    "missing version": _delete("version"),
    "missing levels": _delete("levels"),
    "empty levels": _set(["levels"], {}),
    "missing environments": _delete("environments"),
    "level key that is not a number": lambda d: d["levels"].__setitem__("full", d["levels"].pop(1)),
    "level without steps": lambda d: d["levels"][1].__delitem__("steps"),
    "empty step list": lambda d: d["levels"][1].__setitem__("steps", []),
    "name with capitals and spaces": _set(["name"], "Tiny Runbook"),
    "bad duration": lambda d: d["levels"][1].__setitem__("target", "5 minutes"),
    "duration without a unit": lambda d: d["levels"][1].__setitem__("target", 300),
    "bad condition": lambda d: step(d, 3).__setitem__("wait", "errors are low"),
    "bad comparison in a rule": lambda d: d["decision"][0].__setitem__("any", ["errors >> 5%"]),
    "unknown severity": lambda d: d["decision"][0].__setitem__("severity", "urgent"),
    "rule with neither any nor all": lambda d: d["decision"][0].__delitem__("any"),
    "action with two keys": lambda d: d["decision"][0].__setitem__("action", {"level": 1, "scenario": "web-down"}),
    "unknown action word": lambda d: d["decision"][1].__setitem__("action", "panic"),
    "bad decision_on_unknown": _set(["decision_on_unknown"], "unknown"),
    "flag step with two changes": lambda d: step(d, 1).__setitem__(
        "flag", {"name": "feature", "set": "disabled", "percent": 0}
    ),
    "flag step set to a raw value": lambda d: step(d, 1).__setitem__("flag", {"name": "feature", "set": "false"}),
    "percent over 100": lambda d: step(d, 1).__setitem__("flag", {"name": "feature", "percent": 150}),
    "stages without percent_key": lambda d: d["flags"]["feature"].__delitem__("percent_key"),
    "flag without files": lambda d: d["flags"]["feature"].__delitem__("files"),
    "signal with two sources": lambda d: d["signals"]["errors"].__setitem__("postgres", "SELECT 1"),
    "signal without a source": lambda d: d["signals"].__setitem__("empty", {"unit": "count"}),
    "default on a query signal": lambda d: d["signals"]["errors"].__setitem__("default", 0),
    "unknown unit": lambda d: d["signals"]["errors"].__setitem__("unit", "percentage"),
    "unknown reduce": lambda d: d["signals"]["errors"].__setitem__("reduce", "median"),
    "within on a check step": lambda d: step(d, 0).__setitem__("within", "1m"),
    "mutates on a run step": _replace_step({"id": "x", "run": ["true"], "mutates": False}),
    "run as a plain string": _replace_step({"id": "x", "run": "systemctl restart web"}),
    "run with argv and shell": _replace_step({"id": "x", "run": {"argv": ["true"], "shell": "true"}}),
    "http with json and body": _replace_step(
        {"id": "x", "http": {"method": "POST", "url": "http://x", "json": {"a": 1}, "body": "a=1"}}
    ),
    "http without url": _replace_step({"id": "x", "http": {"method": "GET"}}),
    "unknown http method": _replace_step({"id": "x", "http": {"method": "FETCH", "url": "http://x"}}),
    "include that is neither level nor scenario": _replace_step({"id": "x", "include": "levels 1"}),
    "notify with message and template": _replace_step(
        {"id": "x", "notify": {"message": "hi", "template": "t"}}
    ),
    "on_failure ignore": lambda d: step(d, 4).__setitem__("on_failure", "ignore"),
    "drill never": lambda d: step(d, 4).__setitem__("drill", "never"),
    "retries over 100": lambda d: step(d, 0).__setitem__("retries", 101),
    "step id with a space": lambda d: step(d, 0).__setitem__("id", "look around"),
    "contact without a role": _set(["contacts"], [{"name": "Ada"}]),
    "slack without webhook_env": _set(["notify"], {"slack": {"channel": "#x"}}),
    "pagerduty without routing_key_env": _set(["notify"], {"pagerduty": {"component": "web"}}),
    "pagerduty with an inline routing key": _set(["notify"], {"pagerduty": {"routing_key": "abc"}}),
    "alertmanager url without http": _set(["notify"], {"alertmanager": {"url": "alertmanager:9093"}}),
    "grafana without token_env": _set(["notify"], {"grafana": {"url": "https://g.example.com"}}),
    "token_env that is not a variable name": _set(
        ["notify"], {"grafana": {"url": "https://g.example.com", "token_env": "Bearer abc"}}
    ),
    "prometheus without url": lambda d: d["environments"]["local"].__setitem__("prometheus", {"timeout": "2s"}),
    "service without restart": lambda d: d["services"]["web"].__delitem__("restart"),
    "pickup with two pid sources": lambda d: d["services"]["web"].__setitem__(
        "pickup", {"pid": {"pidfile": "/run/web.pid", "systemd": "web"}}
    ),
    "pickup http without json_path": lambda d: d["services"]["web"].__setitem__(
        "pickup", {"pid": {"systemd": "web"}, "http": {"url": "http://x/c"}}
    ),
    "silence without for": _replace_step({"id": "x", "silence": {"matchers": ["service=web"]}}),
    "silence matcher without an operator": _replace_step(
        {"id": "x", "silence": {"matchers": ["service"], "for": "5m"}}
    ),
    "notify pagerduty with an unknown action": _replace_step(
        {"id": "x", "notify": {"pagerduty": "page", "summary": "down"}}
    ),
    "notify pagerduty with a message": _replace_step(
        {"id": "x", "notify": {"pagerduty": "trigger", "summary": "down", "message": "hi"}}
    ),
}


def _add_template(document):
    document["templates"] = {"done": "Rolled back: ${run.runbook} level ${run.level} in ${run.elapsed}."}
    step(document, 4)["notify"] = {"template": "done", "channel": "#incidents"}


def _only_required(document):
    for key in ("description", "default_environment", "flags", "services", "signals", "decision",
                "decision_on_unknown", "scenarios", "notify", "contacts"):
        document.pop(key)
    document["levels"][1] = {"steps": [{"confirm": "Done by hand?"}]}


# name -> change; the schema and `rollback validate` must both accept the result.
ACCEPTED = {
    "the base runbook": lambda d: None,
    "version as a string": _set(["version"], "1"),
    "unquoted enabled/disabled": lambda d: d["flags"]["feature"].update({"enabled": True, "disabled": False}),
    "files as one string": lambda d: d["flags"]["feature"].__setitem__("files", "${app_dir}/.env"),
    "build_time and create": lambda d: d["flags"]["feature"].update({"build_time": True, "create": True}),
    "check of one signal": lambda d: step(d, 0).__setitem__("check", "errors"),
    "restart with rebuild": lambda d: (
        d["services"]["web"].__setitem__("rebuild", ["true"]),
        step(d, 2).__setitem__("restart", {"service": "web", "rebuild": True}),
    ),
    "run as argv, object and shell": lambda d: d["levels"][1]["steps"][1:1].__iadd__(
        [
            {"id": "argv", "run": ["echo", "${app_dir}"]},
            {"id": "argv-object", "run": {"argv": ["ls"], "cwd": "${app_dir}", "env": {"A": "1", "N": 2}}},
            {"id": "shell", "run": {"shell": "echo \"$A\"", "env": {"A": "${base_url}"}}},
        ]
    ),
    "sql forms": lambda d: d["levels"][1]["steps"].extend(
        [
            {"id": "sql-plain", "sql": "SELECT 1", "mutates": False},
            {"id": "sql-object", "sql": {"query": "SELECT 1", "mutates": False}},
        ]
    ),
    "http with headers, json and statuses": lambda d: d["levels"][1]["steps"].append(
        {
            "id": "smoke",
            "http": {
                "method": "post",
                "url": "${base_url}/api",
                "headers": {"Authorization": "Bearer ${secret.API_TOKEN}"},
                "json": {"email": "a@example.com", "tags": [1, True, None], "nested": {"x": 1.5}},
                "expect_status": [200, 204],
                "expect_body": "ok",
            },
            "retries": 3,
            "retry_delay": "500ms",
        }
    ),
    "notify with a template": _add_template,
    "service pickup": lambda d: d["services"]["web"].__setitem__(
        "pickup",
        {"pid": {"command": ["supervisorctl", "pid", "web"]}, "http": {"url": "${base_url}/c", "json_path": "flags.X"}},
    ),
    "pagerduty, alertmanager and grafana": _set(
        ["notify"],
        {
            "pagerduty": {"routing_key_env": "PD_ROUTING_KEY", "url": "http://127.0.0.1:8080", "component": "web"},
            "alertmanager": {"url": "http://127.0.0.1:9093", "token_env": "AM_TOKEN"},
            "grafana": {"url": "https://grafana.example.com", "token_env": "GRAFANA_TOKEN", "dashboard_uid": "d1"},
        },
    ),
    "silence and pagerduty steps": lambda d: (
        d.__setitem__(
            "notify",
            {
                "pagerduty": {"routing_key_env": "PD_ROUTING_KEY", "url": "http://127.0.0.1:8080"},
                "alertmanager": {"url": "http://127.0.0.1:9093"},
            },
        ),
        d["levels"][1]["steps"].append({"id": "quiet", "silence": {"matchers": ["service=web", "env!~stag.*"], "for": "15m"}}),
        d["levels"][1]["steps"].append(
            {"id": "page", "notify": {"pagerduty": "trigger", "severity": "warning", "summary": "web down"}}
        ),
    ),
    "nested conditions in wait and when": lambda d: (
        step(d, 3).__setitem__("wait", {"any": ["errors < 0.1%", {"all": ["errors < 1%", "db_up == 1"]}]}),
        step(d, 4).__setitem__("when", "errors >= 0"),
    ),
    "assert step": lambda d: d["levels"][1]["steps"].append({"id": "db", "assert": "db_up == 1"}),
    "drill skip and run": lambda d: (
        step(d, 4).__setitem__("drill", "skip"),
        step(d, 0).__setitem__("drill", "run"),
    ),
    "flag percent and step_down": lambda d: d["levels"][1]["steps"][1:2].__iadd__(
        [
            {"id": "half", "flag": {"name": "feature", "percent": 50}},
            {"id": "down", "flag": {"name": "feature", "step_down": True}},
        ]
    ),
    "include of a scenario": lambda d: d["scenarios"].__setitem__(
        "again", {"steps": [{"include": "scenario web-down"}]}
    ),
    "action scenario and step_down, severity on unknown": lambda d: (
        d["decision"].insert(
            0, {"severity": "high", "any": ["complaints > 5"], "action": {"step_down": "feature"}}
        ),
        d["decision"].insert(0, {"severity": "critical", "any": ["db_up < 1"], "action": {"scenario": "web-down"}}),
        d.__setitem__("decision_on_unknown", "high"),
    ),
    "manual default with a unit": lambda d: d["signals"].__setitem__(
        "share", {"manual": True, "default": "5%", "unit": "ratio"}
    ),
    "compound durations": lambda d: (
        d["levels"][1].__setitem__("target", "1m30s"),
        step(d, 2).__setitem__("timeout", "500ms"),
    ),
    "environment service override and ${env} vars": lambda d: d["environments"].__setitem__(
        "staging",
        {
            "vars": {"app_dir": "${env.APP_DIR:-/srv/app}", "base_url": "${env.BASE_URL:-http://x}"},
            "prometheus": {"url": "${env.PROM_URL:-http://127.0.0.1:9090}", "token_env": "PROM_TOKEN"},
            "postgres": {"dsn_env": "DATABASE_URL", "timeout": "5s"},
            "services": {"web": {"restart": ["systemctl", "restart", "web"], "timeout": "1m"}},
        },
    ),
    "several levels": lambda d: d["levels"].__setitem__(
        2, {"name": "Everything", "steps": [{"include": "level 1"}]}
    ),
    "no optional sections": _only_required,
    "fleet: hosts, groups, ssh, placement, rolling and on": _fleet,
    "fleet: single batch and percent max_fail": _fleet_with(
        lambda d: _rolling(d).update({"batches": "100%", "max_fail": "10%"})
    ),
    "fleet: a flag placed by hosts, without a service": _fleet_with(
        lambda d: d["flags"]["feature"].update({"hosts": ["web"], "service": None}) or d["flags"]["feature"].pop("service")
    ),
}


class SchemaTests(unittest.TestCase):
    def test_schema_is_valid_draft7(self):
        jsonschema.Draft7Validator.check_schema(SCHEMA)
        self.assertEqual(SCHEMA["$schema"], "http://json-schema.org/draft-07/schema#")

    def test_repository_runbooks_validate(self):
        paths = sorted((ROOT / "runbooks").glob("*.yaml")) + sorted((ROOT / "runbooks" / "examples").glob("*.yaml"))
        names = [path.name for path in paths]
        self.assertIn("frontend-backend-migration.yaml", names)
        self.assertIn("marketsage.yaml", names)
        for path in paths:
            with self.subTest(runbook=str(path.relative_to(ROOT))):
                errors = schema_errors(load_yaml(path.read_text(encoding="utf-8")))
                self.assertEqual(errors, [], f"{path.relative_to(ROOT)} does not validate:\n{describe(errors)}")

    def test_seed_runbooks_carry_the_modeline(self):
        for name in ("frontend-backend-migration.yaml", "marketsage.yaml"):
            with self.subTest(runbook=name):
                first = (ROOT / "runbooks" / name).read_text(encoding="utf-8").splitlines()[0]
                self.assertEqual(first, MODELINE)

    def test_broken_runbooks_are_rejected(self):
        for name, change in REJECTED.items():
            with self.subTest(case=name):
                document = mutated(change)
                self.assertNotEqual(schema_errors(document), [], f"the schema accepts: {name}")
                verdict = tool_validate(document)
                if verdict is not None:
                    status, output = verdict
                    self.assertEqual(
                        status, 2, f"rollback validate should reject '{name}' (exit 2), got {status}:\n{output}"
                    )

    def test_allowed_forms_are_accepted(self):
        for name, change in ACCEPTED.items():
            with self.subTest(case=name):
                document = mutated(change)
                errors = schema_errors(document)
                self.assertEqual(errors, [], f"the schema rejects '{name}':\n{describe(errors)}")
                verdict = tool_validate(document)
                if verdict is not None:
                    status, output = verdict
                    self.assertEqual(status, 0, f"rollback validate rejects '{name}' (exit {status}):\n{output}")


if __name__ == "__main__":
    note = f"cross-checked with {os.path.relpath(BINARY, ROOT)}" if BINARY else "no rollback binary: schema only"
    print(f"schema test: {SCHEMA_PATH.relative_to(ROOT)}, {len(REJECTED)} rejected and {len(ACCEPTED)} accepted cases, {note}")
    unittest.main(verbosity=1)
