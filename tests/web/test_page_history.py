"""The page's per-program history (CPU/memory sparklines, spawn/exit
timeline), the actions it offers per state, the respawn column's meaning and
the stderr tab of redirect_stderr programs: headless Chromium, real daemon."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
from playwright.sync_api import expect

from tests.daemon_harness import Daemon

WORKLOAD = Path(__file__).with_name("workload.py")
TIMEOUT = 10_000  # ms; how long the page may take to show a change
SAMPLES = 30_000  # ms; the page samples every 5 s: room for a few samples

PROGRAMS = f"""
[program:hog]
command={sys.executable} {WORKLOAD} hog 40
startsecs=0

[program:crasher]
command=sleep 1000
startsecs=0

[program:three]
command=sh -c 'exit 3'
startsecs=0
autorestart=false

[program:merged]
command=sh -c 'echo to-stdout; echo to-stderr >&2; exec sleep 1000'
startsecs=0
redirect_stderr=true

[program:apart]
command=sh -c 'echo to-stderr >&2; exec sleep 1000'
startsecs=0

[program:never]
command=/nonexistent/program
startretries=0
"""


def _url(d: Daemon, path: str = "/") -> str:
    return f"http://127.0.0.1:{d.port}{path}"


def _open(d: Daemon, browser, width: int = 1400):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(_url(d))
    expect(page.locator("tr[data-name='hog']")).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    return page


def _settled(d: Daemon) -> None:
    d.wait_until(lambda: d.state("three") == "EXITED", what="three to exit")
    d.wait_until(lambda: d.state("never") == "FATAL", what="never to give up")
    for name in ("hog", "crasher", "merged", "apart"):
        d.wait_until(lambda name=name: d.state(name) == "RUNNING", what=f"{name} to run")


def test_sparklines_fill_while_the_page_is_open(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    _settled(d)
    page = _open(d, browser)
    hog = page.locator("tr[data-name='hog']")
    # Two polls make a line; the memory line's tooltip names the figure.
    for cls in ("cpu", "rss"):
        page.wait_for_function(
            f"(document.querySelector(\"tr[data-name='hog'] svg.spark.{cls}\") || {{dataset: {{}}}}).dataset.samples >= 2",
            timeout=SAMPLES,
        )
        assert hog.locator(f"svg.spark.{cls} path").get_attribute("d").count("L") >= 1
    expect(hog.locator("svg.spark.rss title")).to_contain_text("Memory, last hour")
    expect(hog.locator("svg.spark.rss title")).to_contain_text("MiB")
    # A program that never ran while watched has no line (and no array).
    assert page.locator("tr[data-name='never'] svg.spark").count() == 0
    assert page.locator("tr[data-name='three'] svg.spark").count() == 0
    shoot(page, "sparklines")
    page.close()


def test_timeline_says_when_and_how_programs_exited(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    _settled(d)
    page = _open(d, browser)
    # Exits from before the page opened are known from the status itself.
    three = page.locator("tr[data-name='three'] td.history")
    expect(three.locator("rect.exit")).to_have_attribute("data-exitstatus", "3", timeout=TIMEOUT)
    expect(three.locator(".note")).to_contain_text("1 exit, last")
    expect(three.locator(".note")).to_contain_text("exit status 3")
    expect(three.locator("rect.exit")).to_have_class("ev exit bad")
    expect(page.locator("tr[data-name='never'] td.history rect.exit")).to_have_count(0)

    # A crash and its automatic restart.
    crasher = page.locator("tr[data-name='crasher']")
    pid = d.rpc.supervisor.getProcessInfo("crasher")["pid"]
    psutil.Process(pid).kill()
    expect(crasher.locator("td.desc")).not_to_contain_text(f"pid {pid},", timeout=TIMEOUT)
    expect(crasher).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    marks = crasher.locator("td.history rect.exit")
    expect(marks).to_have_count(1, timeout=TIMEOUT)
    expect(crasher.locator("td.history .note")).to_contain_text("killed by a signal")
    # The first spawn and the restart; the restart's mark may be drawn a
    # status update after the exit's.
    starts = crasher.locator("td.history rect.start")
    d.wait_until(lambda: starts.count() >= 2, timeout=TIMEOUT / 1000, what="the restart's start mark")

    # An operator's stop is told apart from a crash.
    d.rpc.supervisor.stopProcess("crasher")
    expect(crasher).to_have_attribute("data-state", "STOPPED", timeout=TIMEOUT)
    expect(marks).to_have_count(2, timeout=TIMEOUT)
    expect(marks.nth(1)).to_have_attribute("data-state", "STOPPED")
    expect(crasher.locator("td.history .note")).to_contain_text("2 exits, last")
    expect(crasher.locator("td.history .note")).to_contain_text("stopped")
    shoot(page, "timeline")
    page.close()


def test_restart_only_where_it_means_something(daemon_factory, browser):
    d = daemon_factory(PROGRAMS, inet=True)
    _settled(d)
    page = _open(d, browser)
    d.rpc.supervisor.stopProcess("crasher")
    expect(page.locator("tr[data-name='crasher']")).to_have_attribute("data-state", "STOPPED", timeout=TIMEOUT)
    expect(page.locator("tr[data-name='never']")).to_have_attribute("data-state", "FATAL", timeout=TIMEOUT)
    for name in ("crasher", "never", "three"):  # STOPPED, FATAL, EXITED
        row = page.locator(f"tr[data-name='{name}']")
        expect(row.locator("button[data-action='start']")).to_have_count(1)
        expect(row.locator("button[data-action='restart']")).to_have_count(0)
    hog = page.locator("tr[data-name='hog']")
    expect(hog.locator("button[data-action='restart']")).to_have_count(1)
    expect(hog.locator("button[data-action='start']")).to_have_count(0)
    page.close()


def test_respawn_column_says_it_counts_operator_restarts(daemon_factory, browser):
    d = daemon_factory(PROGRAMS, inet=True)
    _settled(d)
    page = _open(d, browser)
    header = page.locator("#procs thead th.num").nth(2)
    expect(header).to_have_text("Respawns")
    assert "operator" in header.get_attribute("title")
    row = page.locator("tr[data-name='crasher']")
    expect(row.locator("td.restarts")).to_have_text("0", timeout=TIMEOUT)
    row.locator("button[data-action='restart']").click()
    page.locator("#confirm-ok").click()
    expect(page.locator("#message")).to_contain_text("crasher", timeout=TIMEOUT)
    # ng.getProcessStats counts this spawn too: the cell says whose it is.
    expect(row.locator("td.restarts")).to_have_text("1", timeout=SAMPLES)
    assert d.rpc.ng.getProcessStats("crasher")["restarts"] == 1
    title = row.locator("td.restarts").get_attribute("title")
    assert title.startswith("1 spawns after the first") and "operator" in title
    page.close()


def test_no_stderr_tab_for_redirect_stderr(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    _settled(d)
    d.wait_until(lambda: "to-stderr" in d.rpc.supervisor.readProcessStdoutLog("merged", 0, 0))
    page = _open(d, browser)
    stderr_tab = page.locator("#log-tabs .tab[data-channel='stderr']")

    page.locator("tr[data-name='merged'] button[data-action='log']").click()
    expect(page.locator("#log-text")).to_contain_text("to-stderr", timeout=TIMEOUT)
    expect(stderr_tab).to_be_hidden(timeout=TIMEOUT)
    expect(page.locator("#log-note")).to_have_text("stderr is redirected to stdout (redirect_stderr=true)")
    shoot(page, "merged-log")

    # A program with a stderr of its own keeps the tab.
    page.locator("#log-close").click()
    page.locator("tr[data-name='apart'] button[data-action='log']").click()
    expect(page.locator("#log-status")).to_have_text("following", timeout=TIMEOUT)
    expect(stderr_tab).to_be_visible()
    expect(page.locator("#log-note")).to_be_hidden()
    stderr_tab.click()
    expect(page.locator("#log-text")).to_contain_text("to-stderr", timeout=TIMEOUT)

    # tail.html says the same instead of an empty stderr log.
    page.goto(_url(d, "/tail.html?processname=merged&channel=stderr"))
    expect(page.locator("#error")).to_contain_text("redirected to its stdout")
    expect(page.locator("a[href*='channel=stderr']")).to_be_hidden()
    page.goto(_url(d, "/tail.html?processname=apart&channel=stderr"))
    expect(page.locator("#log-text")).to_contain_text("to-stderr", timeout=TIMEOUT)
    expect(page.locator("a[href*='channel=stderr']")).to_be_visible()
    page.close()


def test_exits_are_noted_only_while_a_page_is_open(daemon_factory, browser):
    import json

    from tests.daemon_harness import http_request

    def exits() -> list:
        status, _headers, body = http_request("/api/status", port=d.port)
        assert status == 200
        return json.loads(body)["exits"]

    d = daemon_factory(PROGRAMS, inet=True)
    _settled(d)
    pid = d.rpc.supervisor.getProcessInfo("crasher")["pid"]
    psutil.Process(pid).kill()
    d.wait_until(lambda: d.rpc.supervisor.getProcessInfo("crasher")["pid"] not in (0, pid), what="a respawn")
    assert exits() == []  # nobody was watching

    page = _open(d, browser)
    expect(page.locator("#live")).to_have_text("live", timeout=TIMEOUT)
    pid = d.rpc.supervisor.getProcessInfo("crasher")["pid"]
    psutil.Process(pid).kill()
    d.wait_until(lambda: exits(), what="the exit to be noted")
    [noted] = exits()
    assert (noted["group"], noted["name"], noted["state"], noted["exitstatus"], noted["expected"]) == (
        "crasher",
        "crasher",
        "EXITED",
        -1,
        False,
    )
    page.close()
