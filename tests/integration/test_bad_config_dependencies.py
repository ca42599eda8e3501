"""The daemon refuses a bad readiness/dependency/backoff option (issue 15)
like any other bad value: exit 2, the message on stderr naming the file, the
section and the option (and the cycle), nothing started."""

from __future__ import annotations

import pytest

from tests.integration.test_bad_config import assert_nothing_happened, good_config, run

WEB = "[program:web]\ncommand=sleep 1\n"

# (case id, sections appended to a good config, section, option, words the first line must hold)
CASES = [
    (
        "cycle",
        "[program:a]\ncommand=sleep 1\ndepends_on=b\n[program:b]\ncommand=sleep 1\ndepends_on=c\n"
        "[program:c]\ncommand=sleep 1\ndepends_on=a\n",
        "program:a",
        "depends_on",
        ["a dependency cycle: a -> b -> c -> a"],
    ),
    (
        "own-group",
        "[program:a]\ncommand=sleep 1\ndepends_on=g\n[group:g]\nprograms=a\n",
        "program:a",
        "depends_on",
        ["a dependency cycle: g:a -> g:a"],
    ),
    (
        "unknown-name",
        WEB + "depends_on=good, dbx\n",
        "program:web",
        "depends_on",
        ["'dbx' is not a program, a group or a group:process"],
    ),
    ("bad-ready", WEB + "ready=sometimes\n", "program:web", "ready", ["'sometimes'"]),
    ("https-check", WEB + "healthcheck=https://localhost/\n", "program:web", "healthcheck", ["https"]),
    (
        "watchdog-without-notify",
        WEB + "ready=tcp:80\nwatchdog_secs=10\n",
        "program:web",
        "watchdog_secs",
        ["ready=notify"],
    ),
    ("bad-backoff", WEB + "backoff=random\n", "program:web", "backoff", ["'random'"]),
    ("bad-timeout", WEB + "ready_timeout=0\n", "program:web", "ready_timeout", ["'0'"]),
    (
        "listener",
        "[eventlistener:ev]\ncommand=sleep 1\nevents=TICK_5\nhealthcheck_retries=0\n",
        "eventlistener:ev",
        "healthcheck_retries",
        ["'0'"],
    ),
]


@pytest.mark.parametrize(
    "case, sections, section, option, words", CASES, ids=[c[0] for c in CASES]
)
def test_bad_option_exits_2_with_the_reason(tmp_path, case, sections, section, option, words):
    conf = tmp_path / "supervisord.conf"
    conf.write_text(good_config(tmp_path) + sections)
    result = run(conf)
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: "), result.stderr
    assert lines[-1] == "For help, use supervisord -h"
    first = lines[0]
    assert str(conf) in first and f"[{section}]" in first and f"'{option}'" in first, first
    for word in words:
        assert word in first, first
    assert_nothing_happened(tmp_path, conf)
