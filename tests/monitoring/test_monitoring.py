"""monitoring/: the Prometheus alerting rules load in promtool and fire on
the series they are about (alerts_test.yml), the Grafana dashboard has the
structure Grafana imports (dashboard.schema.json plus the layout rules a
schema cannot say), and every metric either one uses is one our /metrics
really serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.daemon_harness import REPO, daemon_factory, http_request  # noqa: F401  (a fixture)

MONITORING = REPO / "monitoring"
RULES = MONITORING / "supervisor-ng-alerts.yml"
DASHBOARD = MONITORING / "supervisor-ng-dashboard.json"
HERE = Path(__file__).parent
METRIC = re.compile(r"\bsupervisor(?:d)?_[a-z_]+")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool not installed (Debian package prometheus; scripts/bootstrap.sh installs it)")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def test_alert_rules_load():
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_alerts_fire_on_down_fatal_flapping_and_memory_growth():
    done = promtool("test", "rules", str(HERE / "alerts_test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


def _dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_dashboard_matches_the_schema():
    schema = json.loads((HERE / "dashboard.schema.json").read_text())
    jsonschema.validate(_dashboard(), schema)


def test_dashboard_layout():
    panels = _dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        mine = {(pos["x"] + dx, pos["y"] + dy) for dx in range(pos["w"]) for dy in range(pos["h"])}
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine


def _used_metrics() -> set[str]:
    text = RULES.read_text() + DASHBOARD.read_text()
    return set(METRIC.findall(text))


def test_every_metric_used_is_served(daemon_factory):  # noqa: F811
    d = daemon_factory("[program:sleeper]\ncommand=/bin/sleep 1000\nstartsecs=0\n", inet=True)
    d.wait_state("sleeper", "RUNNING")
    status, _, body = http_request("/metrics", port=d.port)
    assert status == 200
    served = set(re.findall(r"^# TYPE (\S+) ", body.decode(), re.M))
    used = _used_metrics()
    assert {"supervisor_process_state", "supervisor_process_restarts_total"} <= used
    assert used <= served, f"not served: {sorted(used - served)}"
