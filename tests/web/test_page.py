"""The web page in headless Chromium against a real daemon."""

from __future__ import annotations

import psutil
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.daemon_harness import Daemon

PROGRAMS = """
[program:cat]
command=cat
startsecs=0

[program:sleeper]
command=sleep 1000
startsecs=0

[program:w1]
command=sleep 1000
startsecs=0

[program:w2]
command=sleep 1000
startsecs=0

[group:workers]
programs=w1,w2
"""

TIMEOUT = 10_000  # ms; how long the page may take to show a change


def _url(d: Daemon, path: str = "/") -> str:
    return f"http://127.0.0.1:{d.port}{path}"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _confirm(page) -> None:
    page.locator("#confirm-ok").click()


def test_lists_programs_and_stop_start(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_url(d))
    for name in ("cat", "sleeper", "workers:w1", "workers:w2"):
        expect(page.locator(f"tr[data-name='{name}']")).to_have_attribute(
            "data-state", "RUNNING", timeout=TIMEOUT
        )
    expect(page.locator("tr[data-group='workers']")).to_be_visible()
    # CPU/memory columns fill in from the stats call.
    expect(page.locator("tr[data-name='sleeper'] td.mem")).not_to_have_text("", timeout=TIMEOUT)
    shoot(page, "status")

    row = page.locator("tr[data-name='sleeper']")
    pid = d.rpc.supervisor.getProcessInfo("sleeper")["pid"]
    row.locator("button[data-action='stop']").click()
    expect(page.locator("#confirm")).to_be_visible()
    shoot(page, "confirm-stop")
    _confirm(page)
    expect(row).to_have_attribute("data-state", "STOPPED", timeout=TIMEOUT)
    assert d.state("sleeper") == "STOPPED"
    d.wait_until(lambda: _gone(pid), what=f"pid {pid} to be gone")
    expect(page.locator("#message")).to_contain_text("sleeper: stopped")
    shoot(page, "stopped")

    row.locator("button[data-action='start']").click()  # not destructive: no confirmation
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    new_pid = d.rpc.supervisor.getProcessInfo("sleeper")["pid"]
    assert new_pid != pid and psutil.pid_exists(new_pid)
    expect(row.locator("td.desc")).to_contain_text(f"pid {new_pid}")
    page.close()


def test_cancelled_confirmation_does_nothing(daemon_factory, browser):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    page = browser.new_page()
    page.goto(_url(d))
    row = page.locator("tr[data-name='cat']")
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    row.locator("button[data-action='stop']").click()
    page.locator("#confirm-cancel").click()
    expect(page.locator("#confirm")).to_be_hidden()
    assert d.state("cat") == "RUNNING"
    page.close()


def test_changes_made_elsewhere_show_without_reload(daemon_factory, browser):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    page = browser.new_page()
    page.goto(_url(d))
    row = page.locator("tr[data-name='workers:w2']")
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    expect(page.locator("#live")).to_have_text("live", timeout=TIMEOUT)
    d.rpc.supervisor.stopProcess("workers:w2")
    expect(row).to_have_attribute("data-state", "STOPPED", timeout=TIMEOUT)
    pid = d.rpc.supervisor.getProcessInfo("cat")["pid"]
    psutil.Process(pid).kill()  # an unexpected exit: autorestart brings it back
    cat = page.locator("tr[data-name='cat']")
    expect(cat.locator("td.desc")).not_to_contain_text(f"pid {pid},", timeout=TIMEOUT)
    expect(cat).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    page.close()


def test_group_action(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    page = browser.new_page()
    page.goto(_url(d))
    group = page.locator("tr[data-group='workers']")
    group.locator("button[data-action='stop']").click()
    _confirm(page)
    for name in ("workers:w1", "workers:w2"):
        expect(page.locator(f"tr[data-name='{name}']")).to_have_attribute(
            "data-state", "STOPPED", timeout=TIMEOUT
        )
    assert d.state("cat") == "RUNNING"
    group.locator("button[data-action='start']").click()
    for name in ("workers:w1", "workers:w2"):
        expect(page.locator(f"tr[data-name='{name}']")).to_have_attribute(
            "data-state", "RUNNING", timeout=TIMEOUT
        )
    page.close()


def test_log_tail_follows_new_output(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    d.rpc.supervisor.sendProcessStdin("cat", "before the page\n")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_url(d))
    row = page.locator("tr[data-name='cat']")
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    row.locator("button[data-action='log']").click()
    text = page.locator("#log-text")
    expect(page.locator("#log-status")).to_have_text("following", timeout=TIMEOUT)
    expect(text).to_contain_text("before the page", timeout=TIMEOUT)
    d.rpc.supervisor.sendProcessStdin("cat", "printed after the page opened\n")
    expect(text).to_contain_text("printed after the page opened", timeout=TIMEOUT)
    shoot(page, "tail")
    # The daemon's own log in the same panel.
    page.locator("#mainlog-button").click()
    expect(page.locator("#log-text")).to_contain_text("spawned: 'cat'", timeout=TIMEOUT)
    page.close()


def test_tail_html_follows(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    d.rpc.supervisor.sendProcessStdin("cat", "first line\n")
    d.wait_until(lambda: "first line" in d.rpc.supervisor.readProcessStdoutLog("cat", 0, 0))
    page = browser.new_page()
    response = page.goto(_url(d, "/tail.html?processname=cat"))
    assert response is not None and response.status == 200
    text = page.locator("#log-text")
    expect(text).to_contain_text("first line")
    expect(page.locator("#log-status")).to_have_text("following", timeout=TIMEOUT)
    d.rpc.supervisor.sendProcessStdin("cat", "second line\n")
    expect(text).to_contain_text("second line", timeout=TIMEOUT)
    shoot(page, "tail-html")
    page.close()


def test_reread_and_update(daemon_factory, browser):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    d.write_programs(PROGRAMS + "\n[program:extra]\ncommand=sleep 1000\nstartsecs=0\n")
    page = browser.new_page()
    page.goto(_url(d))
    expect(page.locator("tr[data-name='cat']")).to_be_visible(timeout=TIMEOUT)
    page.locator("button[data-action='reread']").click()
    expect(page.locator("#message")).to_contain_text("extra: available", timeout=TIMEOUT)
    page.locator("header button[data-action='update']").click()
    _confirm(page)
    expect(page.locator("#message")).to_contain_text("extra: added process group", timeout=TIMEOUT)
    expect(page.locator("tr[data-name='extra']")).to_have_attribute(
        "data-state", "RUNNING", timeout=TIMEOUT
    )
    page.close()


def test_phone_layout(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(_url(d))
    expect(page.locator("tr[data-name='cat']")).to_have_attribute(
        "data-state", "RUNNING", timeout=TIMEOUT
    )
    # No sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shoot(page, "phone", full_page=True)
    page.close()


def test_unix_socket_serves_the_page(daemon_factory):
    from tests.daemon_harness import http_request

    d = daemon_factory(PROGRAMS)
    status, headers, body = http_request("/", sock_path=str(d.sock))
    assert status == 200 and b"static/app.js" in body
    status, headers, body = http_request("/static/app.js", sock_path=str(d.sock))
    assert status == 200 and "javascript" in headers["content-type"]


AUTH = ("admin", "s3cret")


def test_auth_refuses_without_credentials(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True, auth=AUTH)
    d.wait_all()
    page = browser.new_page()
    # Headless Chromium has nobody to ask for a password: it either shows
    # the 401 page or fails the navigation with an auth error.
    try:
        response = page.goto(_url(d))
    except PlaywrightError as exc:
        assert "ERR_INVALID_AUTH_CREDENTIALS" in str(exc)
    else:
        assert response is not None and response.status == 401
    assert page.locator("tr[data-name='cat']").count() == 0
    for path in (
        "/",
        "/index.html",
        "/tail.html?processname=cat",
        "/api/status",
        "/api/events",
        "/static/app.js",
    ):
        assert page.request.get(_url(d, path)).status == 401, path
    shoot(page, "refused")
    page.close()

    context = browser.new_context(http_credentials={"username": AUTH[0], "password": AUTH[1]})
    page = context.new_page()
    response = page.goto(_url(d))
    assert response is not None and response.status == 200
    row = page.locator("tr[data-name='sleeper']")
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    row.locator("button[data-action='stop']").click()
    _confirm(page)
    expect(row).to_have_attribute("data-state", "STOPPED", timeout=TIMEOUT)
    assert d.state("sleeper") == "STOPPED"
    shoot(page, "with-auth")
    context.close()


def test_signal_clear_log_and_restart_count(daemon_factory, browser, shoot):
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    d.rpc.supervisor.sendProcessStdin("cat", "some output\n")
    d.wait_until(lambda: d.rpc.supervisor.readProcessStdoutLog("cat", 0, 0))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_url(d))
    row = page.locator("tr[data-name='cat']")
    expect(row.locator("td.restarts")).to_have_text("0", timeout=TIMEOUT)
    pid = d.rpc.supervisor.getProcessInfo("cat")["pid"]

    row.locator("button[data-action='signal']").click()
    page.locator("#signal-name").select_option("KILL")
    shoot(page, "signal")
    _confirm(page)
    d.wait_until(lambda: _gone(pid), what="cat to die of SIGKILL")
    # autorestart brings it back; the restart count says so.
    expect(row.locator("td.restarts")).to_have_text("1", timeout=TIMEOUT)
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)

    row.locator("button[data-action='clear']").click()
    _confirm(page)
    expect(page.locator("#message")).to_contain_text("cat: log cleared", timeout=TIMEOUT)
    assert d.rpc.supervisor.readProcessStdoutLog("cat", 0, 0) == ""
    page.close()


def test_status_text_health_and_dependencies_on_the_rows(daemon_factory, browser, shoot):
    import sys
    from pathlib import Path

    notify_prog = Path(__file__).parents[1] / "integration" / "notify_prog.py"
    d = daemon_factory(
        f"[program:db]\ncommand={sys.executable} {notify_prog} --status 'accepting connections'\n"
        "ready=notify\n"
        "[program:web]\ncommand=sleep 1000\nstartsecs=0\ndepends_on=db\n"
        "healthcheck=exec:true\nhealthcheck_interval=0.2\n",
        inet=True,
    )
    d.wait_all()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(_url(d))
    expect(page.locator("tr[data-name='db'] .status-text")).to_have_text("accepting connections", timeout=TIMEOUT)
    expect(page.locator("tr[data-name='web'] .depends")).to_have_text("after db:db", timeout=TIMEOUT)
    expect(page.locator("tr[data-name='web'] .health")).to_have_text("healthy", timeout=TIMEOUT)
    shoot(page, "readiness")
    page.close()
