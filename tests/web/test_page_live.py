"""The page's live status in headless Chromium: the whole status once, then
only what changed (http/status_feed.py), applied by the page to its table."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.daemon_harness import Daemon

WORKERS = """
[program:w{n}]
command=sleep 1000
startsecs=0
"""

PROGRAMS = """
[program:sleeper]
command=sleep 1000
startsecs=0

[program:other]
command=sleep 1000
startsecs=0

[group:workers]
programs=w1,w2,w3
""" + "".join(WORKERS.format(n=n) for n in (1, 2, 3))

TIMEOUT = 15_000  # ms; how long the page may take to show a change

# Every status-stream event the page receives, in order: its name and data.
_RECORD_EVENTS = """
window.__events = [];
const addListener = EventSource.prototype.addEventListener;
EventSource.prototype.addEventListener = function (type, listener, options) {
  const recorded = (ev) => {
    window.__events.push({ type: type, bytes: ev.data.length, data: JSON.parse(ev.data) });
    return listener(ev);
  };
  return addListener.call(this, type, recorded, options);
};
"""


def _url(d: Daemon, path: str = "/") -> str:
    return f"http://127.0.0.1:{d.port}{path}"


def _watching(daemon_factory, browser):
    """A daemon with PROGRAMS all RUNNING, and a page on it recording its events."""
    d = daemon_factory(PROGRAMS, inet=True)
    d.wait_all()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(_RECORD_EVENTS)
    page.goto(_url(d))
    return d, page


def _events(page) -> list[dict]:
    return page.evaluate("window.__events")


def _counts(page) -> dict[str, int]:
    chips = page.locator("#states button[data-state-filter]")
    return {
        chips.nth(i).get_attribute("data-state-filter"): int(
            chips.nth(i).get_attribute("data-count")
        )
        for i in range(chips.count())
    }


def test_changes_arrive_as_small_updates(daemon_factory, browser, shoot):
    d, page = _watching(daemon_factory, browser)
    row = page.locator("tr[data-name='sleeper']")
    expect(row).to_have_attribute("data-state", "RUNNING", timeout=TIMEOUT)
    expect(page.locator("#counts")).to_have_text("5 running · 5 total")
    [first] = _events(page)
    assert first["type"] == "status" and len(first["data"]["processes"]) == 5

    # A stop made elsewhere: the page hears of that program, and of nothing else.
    result = d.ctl("stop", "sleeper")
    assert result.returncode == 0, result
    expect(row).to_have_attribute("data-state", "STOPPED", timeout=TIMEOUT)
    updates = _events(page)[1:]
    assert updates and all(ev["type"] == "update" for ev in updates)
    named = {p["name"] for ev in updates for p in ev["data"].get("processes", [])}
    assert named == {"sleeper"}
    assert max(ev["bytes"] for ev in updates) < first["bytes"]
    assert _counts(page) == {"RUNNING": 4, "STOPPED": 1}
    expect(page.locator("#counts")).to_have_text("4 running · 5 total")
    # The others' rows still show what they did.
    expect(page.locator("tr[data-name='other']")).to_have_attribute("data-state", "RUNNING")
    expect(page.locator("tr[data-name='workers:w2']")).to_have_attribute("data-state", "RUNNING")
    shoot(page, "stopped")

    # A group removed from the config and `update`: its rows and header go.
    d.write_programs(PROGRAMS.split("[group:workers]")[0])
    result = d.ctl("update")
    assert result.returncode == 0, result
    expect(page.locator("tr[data-group='workers']")).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator("#rows tr.proc")).to_have_count(2)
    expect(page.locator("#counts")).to_have_text("1 running · 2 total")
    assert _counts(page) == {"RUNNING": 1, "STOPPED": 1}
    removed = [key for ev in _events(page) for key in ev["data"].get("removed", [])]
    assert sorted(removed) == ["workers:w1", "workers:w2", "workers:w3"]
    assert all(ev["type"] == "update" for ev in _events(page)[1:])

    # A group added back arrives in its place, in name order.
    d.write_programs(PROGRAMS)
    result = d.ctl("update")
    assert result.returncode == 0, result
    expect(page.locator("tr[data-name='workers:w3']")).to_have_attribute(
        "data-state", "RUNNING", timeout=TIMEOUT
    )
    names = page.locator("#rows tr.proc").evaluate_all("rows => rows.map(r => r.dataset.name)")
    assert names == ["other", "sleeper", "workers:w1", "workers:w2", "workers:w3"]
    expect(page.locator("#counts")).to_have_text("4 running · 5 total")
    shoot(page, "group-back")
    page.close()


def test_uptime_ticks_without_updates(daemon_factory, browser):
    # The uptime text moves every second; the page computes it, so a quiet
    # daemon sends nothing after the whole status.
    d, page = _watching(daemon_factory, browser)
    desc = page.locator("tr[data-name='sleeper'] td.desc")
    expect(desc).to_contain_text("uptime", timeout=TIMEOUT)
    before = desc.text_content()
    expect(desc).not_to_have_text(before, timeout=TIMEOUT)
    assert [ev["type"] for ev in _events(page)] == ["status"]
    page.close()
