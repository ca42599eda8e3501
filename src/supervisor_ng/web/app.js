// The status page.  State arrives over a Server-Sent Events stream
// (api/events) that the daemon writes to when something changes; actions go
// to api/action, which runs the same XML-RPC methods supervisorctl uses.
"use strict";

(function () {
  const $ = (sel) => document.querySelector(sel);
  const rowsEl = $("#rows");
  const STATS_EVERY = 5000; // ms between CPU/memory refreshes while the page is visible
  // What ng.getProcessStats' "restarts" counts (spawns - 1): the operator's
  // starts and restarts as well as autorestart's.
  const RESPAWNS = "spawns after the first since the daemon started: automatic restarts and operator starts/restarts alike";

  let snapshot = null; // last status event
  let receivedAt = 0; // Date.now() when it arrived
  let stats = {}; // "group:name" -> ng.getProcessStats struct
  let filterText = "";

  // -- helpers -------------------------------------------------------------

  function spec(p) {
    return p.group === p.name ? p.name : p.group + ":" + p.name;
  }

  function fullSpec(p) {
    return p.group + ":" + p.name;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const hms = h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    return d ? d + (d === 1 ? " day, " : " days, ") + hms : hms;
  }

  function bytes(kib) {
    if (kib === undefined) return "";
    if (kib < 1024) return kib + " KiB";
    if (kib < 1024 * 1024) return (kib / 1024).toFixed(1) + " MiB";
    return (kib / 1048576).toFixed(2) + " GiB";
  }

  function serverNow() {
    if (!snapshot) return Date.now() / 1000;
    return snapshot.now + (Date.now() - receivedAt) / 1000;
  }

  function describe(p) {
    if (p.statename === "RUNNING") {
      return "pid " + p.pid + ", uptime " + duration(serverNow() - p.start);
    }
    if (p.statename === "EXITED") {
      return p.description + " · exit status " + p.exitstatus;
    }
    return p.description || "";
  }

  function showMessage(text, isError) {
    const box = $("#message");
    box.textContent = text;
    box.classList.toggle("error", !!isError);
    box.hidden = !text;
  }

  // -- rendering -----------------------------------------------------------

  function actionButtons(target, state, isGroup) {
    const box = el("div", { class: "actions" });
    const running = ["RUNNING", "STARTING", "BACKOFF"].indexOf(state) >= 0;
    const add = (action, label, danger) => {
      const b = el("button", { type: "button", "data-action": action, "data-target": target }, label);
      if (danger) b.classList.add("danger");
      box.appendChild(b);
      return b;
    };
    if (isGroup || !running) add("start", "Start");
    if (isGroup || running) add("stop", "Stop", true);
    // Restarting a STOPPED/EXITED/FATAL program is only a start: offer Start.
    if (isGroup || running) add("restart", "Restart", true);
    if (isGroup || running) add("signal", "Signal", true);
    add("clear", "Clear log", true);
    if (!isGroup) add("log", "Log");
    return box;
  }

  // -- the model: every program, the filtered list, the rows on screen -------
  //
  // A daemon may hold thousands of programs: the page keeps them all as data
  // and builds table rows only for the slice on screen (plus a margin), with
  // a spacer row above and below standing in for the rest.  Every row has
  // the same height (app.css), so a row's place is index * height.

  const OVERSCAN = 10; // rows built beyond each edge of the screen
  const STATES = ["RUNNING", "STARTING", "BACKOFF", "STOPPING", "STOPPED", "EXITED", "FATAL", "UNKNOWN"];
  let items = []; // the filtered list: { key, kind: "group"|"proc", ... }
  let stateFilter = new Set(); // statenames to show; empty = all
  let rowHeight = 0; // px, measured from the first row built
  const rowCache = new Map(); // item key -> <tr> on screen, still current
  const dirty = new Set(); // item keys whose row must be built again
  let painted = null; // [first, last) rows on screen at the last paint
  let firstRowsMarked = false;

  function sameShown(a, b) {
    // A RUNNING program's description is its uptime, ticked by the page
    // itself: a new uptime is not a change to redraw for.
    return (
      a.statename === b.statename &&
      a.pid === b.pid &&
      a.start === b.start &&
      a.stop === b.stop &&
      a.exitstatus === b.exitstatus &&
      a.spawnerr === b.spawnerr &&
      (a.statename === "RUNNING" || a.description === b.description)
    );
  }

  // The whole status (the stream's first event): only the programs whose
  // data changed are marked for redrawing (and their group's header, whose
  // count may have moved).
  function takeSnapshot(next) {
    const before = new Map();
    for (const p of (snapshot && snapshot.processes) || []) before.set(fullSpec(p), p);
    snapshot = next;
    snapshot.processes = snapshot.processes || [];
    for (const p of snapshot.processes) {
      const key = fullSpec(p);
      const old = before.get(key);
      if (!old || !sameShown(old, p)) {
        dirty.add(key);
        dirty.add("group:" + p.group);
      }
    }
    reindex();
  }

  let position = new Map(); // "group:name" -> index in snapshot.processes

  function reindex() {
    position = new Map();
    snapshot.processes.forEach((p, i) => position.set(fullSpec(p), i));
  }

  // As getAllProcessInfo orders them: by group, then name (code points).
  function byName(a, b) {
    if (a.group !== b.group) return a.group < b.group ? -1 : 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  }

  // A later event: only what changed since the one before (the programs
  // whose fields changed, the ones removed, the daemon's fields that moved).
  function takeUpdate(update) {
    for (const key in update) {
      if (key !== "processes" && key !== "removed" && key !== "exits") snapshot[key] = update[key];
    }
    let reorder = false;
    for (const p of update.processes || []) {
      const key = fullSpec(p);
      const at = position.get(key);
      if (at === undefined) {
        snapshot.processes.push(p);
        reorder = true;
      } else {
        snapshot.processes[at] = p;
      }
      dirty.add(key);
      dirty.add("group:" + p.group);
    }
    if (update.removed && update.removed.length) {
      const gone = new Set(update.removed);
      snapshot.processes = snapshot.processes.filter((p) => !gone.has(fullSpec(p)));
      for (const key of gone) dirty.add("group:" + key.split(":")[0]);
      reorder = true;
    }
    if (reorder) {
      snapshot.processes.sort(byName);
      reindex();
    }
  }

  function matches(p, filter) {
    if (stateFilter.size && !stateFilter.has(p.statename)) return false;
    return !filter || fullSpec(p).toLowerCase().indexOf(filter) >= 0;
  }

  // One pass over every program: the filtered list and the counts per state.
  function buildItems() {
    const procs = snapshot.processes || [];
    const filter = filterText.trim().toLowerCase();
    const byGroup = new Map();
    const counts = {};
    for (const p of procs) {
      counts[p.statename] = (counts[p.statename] || 0) + 1;
      let g = byGroup.get(p.group);
      if (!g) byGroup.set(p.group, (g = { members: [], visible: [], up: 0 }));
      g.members.push(p);
      if (p.statename === "RUNNING") g.up++;
      if (matches(p, filter)) g.visible.push(p);
    }
    items = [];
    painted = null; // the same indices may now hold other items
    for (const [group, g] of byGroup) {
      if (!g.visible.length) continue;
      const isSingle = g.members.length === 1 && g.members[0].name === group;
      if (!isSingle) {
        const header = { key: "group:" + group, kind: "group", group: group, size: g.members.length, up: g.up };
        items.push(header);
      }
      for (const p of g.visible) items.push({ key: fullSpec(p), kind: "proc", p: p, member: !isSingle });
    }
    return counts;
  }

  function groupRow(item) {
    const tr = el("tr", { class: "group", "data-group": item.group, "data-key": item.key });
    tr.appendChild(el("td", {}, item.up + "/" + item.size));
    tr.appendChild(el("td", { class: "name" }, item.group + ":*"));
    tr.appendChild(el("td", { class: "desc" }, "group"));
    tr.appendChild(el("td", { class: "num" }));
    tr.appendChild(el("td", { class: "num" }));
    tr.appendChild(el("td", { class: "num" }));
    tr.appendChild(el("td", { class: "history" }));
    const td = el("td");
    td.appendChild(actionButtons(item.group + ":*", "", true));
    tr.appendChild(td);
    return tr;
  }

  function procRow(item) {
    const p = item.p;
    const s = stats[fullSpec(p)] || {};
    const tr = el("tr", {
      class: item.member ? "proc member" : "proc",
      "data-name": spec(p),
      "data-key": item.key,
      "data-state": p.statename,
    });
    const badge = el("span", { class: "badge state " + p.statename }, p.statename);
    if (p.statename === "EXITED" && p.description && p.description.indexOf("not expected") >= 0) {
      badge.classList.add("unexpected");
    }
    const tdState = el("td");
    tdState.appendChild(badge);
    tr.appendChild(tdState);
    const tdName = el("td", { class: "name" }, spec(p));
    // What the program says of itself (sd_notify STATUS=) and what its
    // watchdog / health check says: only for programs that have them.
    for (const [key, cls] of [["status_text", "note status-text"], ["health", "note health"]]) {
      if (s[key] && p.pid && s.pid === p.pid) {
        const bad = key === "health" && s.healthy === false;
        tdName.appendChild(el("div", { class: cls + (bad ? " unhealthy" : ""), title: s[key] }, s[key]));
      }
    }
    if (s.depends_on && s.depends_on.length) {
      const after = "after " + s.depends_on.join(", ");
      tdName.appendChild(el("div", { class: "note depends", title: after }, after));
    }
    tr.appendChild(tdName);
    const text = describe(p);
    tr.appendChild(el("td", { class: "desc", title: text, "data-uptime": p.statename === "RUNNING" ? "1" : "" }, text));
    const running1 = p.pid && s.pid === p.pid;
    const now = serverNow();
    const tdCpu = el("td", { class: "num cpu", "data-label": "CPU" }, running1 ? s.cpu_percent.toFixed(1) + "%" : "");
    const tdMem = el("td", { class: "num mem", "data-label": "Mem" }, running1 ? bytes(s.rss_kb) : "");
    const cpuLine = ProgramHistory.sparkline(fullSpec(p), "cpu", now, "CPU", (v) => v.toFixed(1) + "%");
    const memLine = ProgramHistory.sparkline(fullSpec(p), "rss", now, "Memory", (v) => bytes(Math.round(v)));
    if (cpuLine) tdCpu.appendChild(cpuLine);
    if (memLine) tdMem.appendChild(memLine);
    tr.appendChild(tdCpu);
    tr.appendChild(tdMem);
    const tdRestarts = el("td", { class: "num restarts", "data-label": "Respawns" }, s.restarts === undefined ? "" : String(s.restarts));
    if (s.restarts !== undefined) tdRestarts.title = s.restarts + " " + RESPAWNS;
    tr.appendChild(tdRestarts);
    const tdHistory = el("td", { class: "history", "data-label": "Last hour" });
    tdHistory.appendChild(ProgramHistory.timeline(fullSpec(p), now));
    tr.appendChild(tdHistory);
    const td = el("td");
    td.appendChild(actionButtons(spec(p), p.statename, false));
    tr.appendChild(td);
    return tr;
  }

  function spacer(height, cls) {
    const tr = el("tr", { class: "spacer " + cls, "aria-hidden": "true" });
    const td = el("td", { colspan: "8" });
    td.style.height = height + "px";
    tr.appendChild(td);
    return tr;
  }

  // Which rows the window shows, from the page's scroll position: the
  // table scrolls with the page, so no inner scroll box is needed.
  function visibleRange() {
    const h = rowHeight || 48;
    const top = rowsEl.getBoundingClientRect().top; // viewport px of row 0
    const first = Math.max(0, Math.floor(-top / h) - OVERSCAN);
    const last = Math.min(items.length, Math.ceil((window.innerHeight - top) / h) + OVERSCAN);
    return [Math.min(first, items.length), Math.max(last, Math.min(first, items.length))];
  }

  // Build the rows now on screen, reusing each row that is still current.
  function paint(force) {
    if (!snapshot) return;
    if (!items.length) {
      const tr = el("tr", { class: "empty" });
      const procs = snapshot.processes || [];
      tr.appendChild(el("td", { colspan: "8" }, procs.length ? "No program matches the filter." : "No programs configured."));
      rowsEl.replaceChildren(tr);
      rowCache.clear();
      dirty.clear();
      painted = null;
      return;
    }
    const [first, last] = visibleRange();
    const unchanged = painted && painted[0] === first && painted[1] === last && !dirty.size;
    if (unchanged && !force) return;
    const h = rowHeight || 48;
    const frag = document.createDocumentFragment();
    frag.appendChild(spacer(first * h, "above"));
    const keep = new Map();
    for (let i = first; i < last; i++) {
      const item = items[i];
      let tr = rowCache.get(item.key);
      if (!tr || dirty.has(item.key) || force) tr = item.kind === "group" ? groupRow(item) : procRow(item);
      keep.set(item.key, tr);
      frag.appendChild(tr);
    }
    frag.appendChild(spacer((items.length - last) * h, "below"));
    rowsEl.replaceChildren(frag);
    rowCache.clear();
    for (const [key, tr] of keep) rowCache.set(key, tr);
    dirty.clear();
    painted = [first, last];
    if (!rowHeight && last > first) {
      // The first real row tells the height every row has (app.css fixes it).
      rowHeight = rowsEl.children[1].getBoundingClientRect().height || 48;
      painted = null;
      paint(true);
      return;
    }
    if (!firstRowsMarked) {
      // For measuring: the rows are built, and (a frame later) painted.
      firstRowsMarked = true;
      performance.mark("rows-rendered");
      requestAnimationFrame(() => setTimeout(() => performance.mark("rows-painted"), 0));
    }
  }

  function renderCounts(counts) {
    const procs = snapshot.processes || [];
    const box = $("#states");
    const chips = [];
    const present = STATES.filter((name) => counts[name]).concat(Object.keys(counts).filter((name) => STATES.indexOf(name) < 0));
    for (const name of present) {
      const chip = el("button", {
        type: "button",
        class: "chip badge " + name,
        "data-state-filter": name,
        "data-count": String(counts[name]),
        "aria-pressed": stateFilter.has(name) ? "true" : "false",
      }, name + " " + counts[name]);
      chips.push(chip);
    }
    for (const name of stateFilter) {
      if (!counts[name]) stateFilter.delete(name); // nothing left in that state
    }
    box.replaceChildren(...chips);
    const shown = items.filter((item) => item.kind === "proc").length;
    $("#counts").textContent =
      (counts.RUNNING || 0) + " running · " + procs.length + " total" + (shown !== procs.length ? " · " + shown + " shown" : "");
  }

  // Everything but the rows: header, counts, the filtered list; then the rows.
  function render(force) {
    if (!snapshot) return;
    $("#ident").textContent = snapshot.identification || "supervisor";
    document.title = (snapshot.identification || "supervisor") + " · status";
    const ds = $("#daemon-state");
    ds.textContent = snapshot.state;
    ds.className = "badge " + snapshot.state;
    $("#version").textContent = "supervisor-ng " + (snapshot.version || "") + " · daemon pid " + (snapshot.pid || "");
    renderCounts(buildItems());
    paint(force);
  }

  let paintQueued = false;
  function schedulePaint() {
    if (paintQueued) return;
    paintQueued = true;
    requestAnimationFrame(() => {
      paintQueued = false;
      paint(false);
    });
  }
  window.addEventListener("scroll", schedulePaint, { passive: true });
  window.addEventListener("resize", () => {
    rowHeight = 0; // the phone layout's rows are taller
    paint(true);
  });

  // A new filter shows its list from the first match, not from wherever
  // the longer list had been scrolled to.
  function showListTop() {
    const top = $("#procs").getBoundingClientRect().top - $("header.top").getBoundingClientRect().height;
    if (top < 0) window.scrollBy(0, top);
    paint(false);
  }

  // The uptimes on screen, once a second, without rebuilding their rows.
  function tickUptimes() {
    if (!snapshot || !painted) return;
    for (let i = painted[0]; i < painted[1]; i++) {
      const item = items[i];
      if (item.kind !== "proc" || item.p.statename !== "RUNNING") continue;
      const td = rowCache.get(item.key) && rowCache.get(item.key).querySelector("td.desc");
      if (td) td.textContent = describe(item.p);
    }
  }

  // -- live status -----------------------------------------------------------

  function connect() {
    const live = $("#live");
    const source = new EventSource("api/events");
    source.addEventListener("status", (ev) => {
      const data = JSON.parse(ev.data);
      takeSnapshot(data);
      receivedAt = Date.now();
      ProgramHistory.observe(data, true);
      render();
    });
    source.addEventListener("update", (ev) => {
      const data = JSON.parse(ev.data);
      if (!snapshot) return; // cannot happen: the stream begins with the whole status
      takeUpdate(data);
      receivedAt = Date.now();
      ProgramHistory.observe(data, false);
      render();
    });
    source.onopen = () => {
      live.textContent = "live";
      live.className = "live on";
    };
    source.onerror = () => {
      live.textContent = "reconnecting…";
      live.className = "live off";
    };
  }

  async function refreshStats() {
    if (document.visibilityState !== "visible") return;
    try {
      const response = await fetch("api/stats", { cache: "no-store" });
      if (!response.ok) return;
      const data = await response.json();
      stats = {};
      for (const s of data.processes) stats[s.group + ":" + s.name] = s;
      ProgramHistory.record(data.processes, serverNow());
      const d = data.daemon;
      $("#daemon-figures").textContent =
        "daemon: " + bytes(d.rss_kb) + " RSS · " + d.cpu_seconds.toFixed(1) + " s CPU";
      render(true); // new figures for every row on screen (and only those)
    } catch (err) {
      /* next round */
    }
  }

  // -- actions ----------------------------------------------------------------

  const DESTRUCTIVE = { stop: 1, restart: 1, signal: 1, clear: 1, update: 1 };
  const VERBS = { start: "Start", stop: "Stop", restart: "Restart", signal: "Send a signal to", clear: "Clear the logs of" };

  function confirmAction(action, target) {
    const dialog = $("#confirm");
    const who = target === "all" ? "all programs" : target;
    $("#confirm-text").textContent =
      action === "update"
        ? "Apply the configuration file: stop and remove changed or removed groups, add new ones?"
        : VERBS[action] + " " + who + "?";
    $("#signal-choice").hidden = action !== "signal";
    $("#confirm-ok").textContent = action === "update" ? "Update" : action === "signal" ? "Send" : VERBS[action].split(" ")[0];
    return new Promise((resolve) => {
      dialog.onclose = () => resolve(dialog.returnValue === "ok");
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  async function runAction(action, target) {
    if (DESTRUCTIVE[action] && !(await confirmAction(action, target))) return;
    const body = { action: action, target: target || "" };
    if (action === "signal") body.signal = $("#signal-name").value;
    showMessage((VERBS[action] || action) + " " + (target || "") + "…");
    try {
      const response = await fetch("api/action", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const data = await response.json();
      showMessage(data.lines && data.lines.length ? data.lines.join("\n") : data.message, !data.ok);
    } catch (err) {
      showMessage("request failed: " + err, true);
    }
    refreshStats();
  }

  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    const target = button.dataset.target;
    if (action === "log") openLog(target, "stdout");
    else runAction(action, target);
  });

  // -- log panel ----------------------------------------------------------------

  let stream = null;
  let logTarget = null;

  function openLog(target, channel) {
    if (stream) stream.stop();
    logTarget = target;
    const panel = $("#logpanel");
    const pre = $("#log-text");
    pre.textContent = "";
    panel.hidden = false;
    document.body.classList.add("log-open");
    $("#log-tabs").hidden = target === null;
    $("#log-note").hidden = true;
    for (const tab of document.querySelectorAll("#log-tabs .tab")) {
      tab.classList.toggle("active", tab.dataset.channel === channel);
      tab.hidden = false;
    }
    if (target !== null) showChannels(target);
    $("#log-title").textContent = target === null ? "daemon log" : target;
    const url = target === null ? "mainlogtail" : "logtail/" + encodeURIComponent(target).replace(/%3A/gi, ":") + "/" + channel;
    pre.dataset.source = url;
    stream = LogStream.follow(url, pre, {
      follow: () => $("#log-follow").checked,
      onStatus: (text) => {
        $("#log-status").textContent = text;
      },
    });
  }

  // A program with redirect_stderr has no stderr of its own to show.
  async function showChannels(target) {
    try {
      const response = await fetch("api/channels?name=" + encodeURIComponent(target), { cache: "no-store" });
      if (!response.ok || logTarget !== target) return;
      const data = await response.json();
      if (!data.redirect_stderr) return;
      $("#log-tabs .tab[data-channel='stderr']").hidden = true;
      const note = $("#log-note");
      note.textContent = "stderr is redirected to stdout (redirect_stderr=true)";
      note.hidden = false;
    } catch (err) {
      /* the tab stays; its stream says what there is */
    }
  }

  function closeLog() {
    if (stream) stream.stop();
    stream = null;
    $("#logpanel").hidden = true;
    document.body.classList.remove("log-open");
  }

  $("#log-close").addEventListener("click", closeLog);
  $("#log-clear-view").addEventListener("click", () => {
    $("#log-text").textContent = "";
  });
  $("#mainlog-button").addEventListener("click", () => openLog(null, "stdout"));
  for (const tab of document.querySelectorAll("#log-tabs .tab")) {
    tab.addEventListener("click", () => openLog(logTarget, tab.dataset.channel));
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("#logpanel").hidden && !$("#confirm").open) closeLog();
  });

  // -- start -------------------------------------------------------------------

  $("#filter").addEventListener("input", (ev) => {
    filterText = ev.target.value;
    render();
    showListTop();
  });
  $("#states").addEventListener("click", (ev) => {
    const chip = ev.target.closest("button[data-state-filter]");
    if (!chip) return;
    const name = chip.dataset.stateFilter;
    if (stateFilter.has(name)) stateFilter.delete(name);
    else stateFilter.add(name);
    render();
    showListTop();
  });
  const params = new URLSearchParams(location.search);
  if (params.get("message")) showMessage(params.get("message"), params.get("message").indexOf("ERROR") >= 0);
  connect();
  refreshStats();
  setInterval(tickUptimes, 1000);
  setInterval(refreshStats, STATS_EVERY);
  document.addEventListener("visibilitychange", refreshStats);
})();
