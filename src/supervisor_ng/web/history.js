// The last hour of each program, kept in the page: CPU and memory from the
// api/stats polls the page already makes (only while it is visible), and the
// spawns and exits seen in the status stream (the daemon notes how programs
// exit only while a status stream is open: http/history.py).  Nothing is
// sampled in the background, so a daemon nobody looks at does no work for
// this; the price is that the history starts when the page is opened, and a
// reload forgets the figures.
"use strict";

window.ProgramHistory = (function () {
  const HOUR = 3600; // seconds shown
  const SLOTS = 720; // one hour of 5 s polls; a fixed array per program
  const MAX_EVENTS = 200; // per program: a crash loop cannot grow the page
  const GAP = 15; // seconds between samples that mean the page was hidden or closed
  const SVG = "http://www.w3.org/2000/svg";

  // One ring of sample times shared by all programs; each program has two
  // fixed arrays indexed by the same slot, made the first time it runs.
  const times = new Float64Array(SLOTS).fill(NaN);
  let head = -1; // slot of the newest sample
  const series = new Map(); // "group:name" -> { cpu, rss }
  const events = new Map(); // "group:name" -> [{ t, kind, state, exitstatus }]
  const seen = new Map(); // "group:name" -> { start } from the last snapshot

  function record(processes, now) {
    head = (head + 1) % SLOTS;
    times[head] = now;
    const present = new Set();
    for (const s of processes) {
      const key = s.group + ":" + s.name;
      present.add(key);
      let ring = series.get(key);
      if (!ring && !s.pid) continue; // never ran while watched: nothing kept
      if (!ring) {
        ring = { cpu: new Float32Array(SLOTS).fill(NaN), rss: new Float32Array(SLOTS).fill(NaN) };
        series.set(key, ring);
      }
      ring.cpu[head] = s.pid ? s.cpu_percent : NaN;
      ring.rss[head] = s.pid ? s.rss_kb : NaN;
    }
    for (const key of series.keys()) if (!present.has(key)) series.delete(key);
  }

  function addEvent(key, ev, now, within) {
    if (!ev.t || now - ev.t > HOUR) return;
    let list = events.get(key);
    if (!list) events.set(key, (list = []));
    if (list.some((old) => old.kind === ev.kind && Math.abs(old.t - ev.t) < within)) return;
    list.push(ev);
    list.sort((a, b) => a.t - b.t);
    while (list.length > MAX_EVENTS || (list.length && now - list[0].t > HOUR)) list.shift();
  }

  // Exits come from the daemon's note of them (data.exits: how each ended,
  // kept only while a page is open); spawns from each program's start time
  // changing.  The exit before the page opened is known only from the
  // program's last stop time, and how it ended only if it has not been
  // spawned again since.  ``data`` is the whole status (``full``) or an
  // update: the programs that changed, the exits since, the removed ones.
  function observe(data, full) {
    const now = data.now;
    for (const e of data.exits || []) {
      const ev = { t: e.t, kind: "exit", state: e.state, exitstatus: e.exitstatus, expected: e.expected, spawnerr: e.spawnerr };
      addEvent(e.group + ":" + e.name, ev, now, 0.001);
    }
    const present = new Set();
    for (const p of data.processes || []) {
      const key = p.group + ":" + p.name;
      present.add(key);
      const before = seen.get(key);
      seen.set(key, { start: p.start });
      if (!before && p.stop) {
        const ended = ["EXITED", "STOPPED", "BACKOFF", "FATAL"].indexOf(p.statename) >= 0;
        const ev = ended
          ? { t: p.stop, kind: "exit", state: p.statename, exitstatus: p.statename === "EXITED" || p.statename === "STOPPED" ? p.exitstatus : null, spawnerr: p.spawnerr }
          : { t: p.stop, kind: "exit", state: "EXITED", exitstatus: null, restarted: true };
        addEvent(key, ev, now, 2); // stop times are whole seconds
      }
      if (p.start && (!before || before.start !== p.start)) {
        addEvent(key, { t: p.start, kind: "start", state: "STARTING" }, now, 0.5);
      }
    }
    // Programs removed from the configuration take their history with them.
    for (const map of [seen, events, series]) {
      if (full) {
        for (const key of map.keys()) if (!present.has(key)) map.delete(key);
      } else {
        for (const key of data.removed || []) map.delete(key);
      }
    }
  }

  function clock(t) {
    return new Date(t * 1000).toLocaleTimeString([], { hour12: false });
  }

  function exitText(ev) {
    if (ev.exitstatus === null || ev.exitstatus === undefined) return "";
    return ev.exitstatus === -1 ? "killed by a signal" : "exit status " + ev.exitstatus;
  }

  function how(ev) {
    if (ev.kind === "start") return "spawned";
    const status = exitText(ev);
    const paren = status ? " (" + status + ")" : "";
    if (ev.state === "STOPPED") return "stopped on request" + paren;
    if (ev.state === "BACKOFF") return (ev.spawnerr || "exited too quickly") + ", will retry";
    if (ev.state === "FATAL") return (ev.spawnerr || "exited too quickly") + ", gave up";
    if (ev.restarted) return "exited, then spawned again (how: before this page was opened)";
    const expected = ev.expected === true ? ", expected" : ev.expected === false ? ", not expected" : "";
    return "exited" + (status || expected ? " (" + (status || "exit") + expected + ")" : "");
  }

  function isBad(ev) {
    if (ev.kind !== "exit") return false;
    if (ev.state === "BACKOFF" || ev.state === "FATAL") return true;
    if (ev.state === "EXITED") return ev.expected === false || (ev.expected === undefined && !!ev.exitstatus);
    return false;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    return node;
  }

  // A line over the last hour; gaps where the program was not running or
  // the page was hidden (no sample means no line).
  function sparkline(key, field, now, label, format) {
    const ring = series.get(key);
    if (!ring) return null;
    const values = ring[field];
    let max = 0;
    let count = 0;
    let latest = NaN;
    for (let i = 0; i < SLOTS; i++) {
      if (!isNaN(values[i]) && now - times[i] <= HOUR) {
        max = Math.max(max, values[i]);
        count++;
      }
    }
    if (!count) return null;
    if (field === "cpu") max = Math.max(max, 1);
    const path = [];
    let pen = false;
    let previous = NaN;
    for (let n = SLOTS - 1; n >= 0; n--) {
      const i = (head - n + SLOTS) % SLOTS; // oldest to newest
      const v = values[i];
      const gap = !(times[i] - previous <= GAP);
      previous = times[i];
      if (isNaN(v) || isNaN(times[i]) || now - times[i] > HOUR) {
        pen = false;
        continue;
      }
      if (gap) pen = false;
      latest = v;
      const x = (HOUR - (now - times[i])).toFixed(0);
      const y = (20 - (v / (max || 1)) * 18).toFixed(1);
      path.push((pen ? "L" : "M") + x + " " + y);
      pen = true;
    }
    const box = svg("svg", {
      class: "spark " + field,
      viewBox: "0 0 " + HOUR + " 21",
      preserveAspectRatio: "none",
      "data-samples": String(count),
    });
    const title = svg("title", {});
    title.textContent = label + ", last hour while this page was open: peak " + format(max) + ", now " + format(latest);
    box.appendChild(title);
    box.appendChild(svg("path", { d: path.join(""), "vector-effect": "non-scaling-stroke" }));
    return box;
  }

  // Spawns and exits of the last hour on one strip, newest at the right;
  // each mark says when and how on hover, the text says how many.
  function timeline(key, now) {
    const list = (events.get(key) || []).filter((ev) => now - ev.t <= HOUR);
    const box = document.createElement("div");
    box.className = "timeline";
    const strip = svg("svg", { viewBox: "0 0 " + HOUR + " 10", preserveAspectRatio: "none" });
    for (const ev of list) {
      const bad = isBad(ev);
      const mark = svg("rect", {
        class: "ev " + ev.kind + (bad ? " bad" : ""),
        x: String(Math.max(0, HOUR - (now - ev.t) - 15)),
        y: ev.kind === "exit" ? "0" : "3",
        width: "30",
        height: ev.kind === "exit" ? "10" : "4",
        "data-kind": ev.kind,
        "data-state": ev.state,
        "data-exitstatus": ev.exitstatus === undefined || ev.exitstatus === null ? "" : String(ev.exitstatus),
      });
      const title = svg("title", {});
      title.textContent = clock(ev.t) + " " + how(ev);
      mark.appendChild(title);
      strip.appendChild(mark);
    }
    box.appendChild(strip);
    const exits = list.filter((ev) => ev.kind === "exit");
    const last = exits[exits.length - 1];
    const text = document.createElement("div");
    text.className = "note";
    text.textContent = last ? exits.length + (exits.length === 1 ? " exit" : " exits") + ", last " + clock(last.t) + " " + how(last) : "";
    box.appendChild(text);
    box.title = list.length ? list.map((ev) => clock(ev.t) + " " + how(ev)).join("\n") : "no spawn or exit seen in the last hour";
    return box;
  }

  return { record: record, observe: observe, sparkline: sparkline, timeline: timeline };
})();
