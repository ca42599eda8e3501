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

  function groupsOf(procs) {
    const groups = new Map();
    for (const p of procs) {
      if (!groups.has(p.group)) groups.set(p.group, []);
      groups.get(p.group).push(p);
    }
    return groups;
  }

  function render() {
    if (!snapshot) return;
    $("#ident").textContent = snapshot.identification || "supervisor";
    document.title = (snapshot.identification || "supervisor") + " · status";
    const ds = $("#daemon-state");
    ds.textContent = snapshot.state;
    ds.className = "badge " + snapshot.state;
    $("#version").textContent = "supervisor-ng " + (snapshot.version || "") + " · daemon pid " + (snapshot.pid || "");
    const procs = snapshot.processes || [];
    const filter = filterText.toLowerCase();
    const frag = document.createDocumentFragment();
    let shown = 0;
    let running = 0;
    for (const [group, members] of groupsOf(procs)) {
      const visible = members.filter((p) => !filter || spec(p).toLowerCase().indexOf(filter) >= 0);
      if (!visible.length) continue;
      const isSingle = members.length === 1 && members[0].name === group;
      if (!isSingle) {
        const tr = el("tr", { class: "group", "data-group": group });
        const up = members.filter((p) => p.statename === "RUNNING").length;
        tr.appendChild(el("td", {}, up + "/" + members.length));
        tr.appendChild(el("td", { class: "name" }, group + ":*"));
        tr.appendChild(el("td", { class: "desc" }, "group"));
        tr.appendChild(el("td", { class: "num" }));
        tr.appendChild(el("td", { class: "num" }));
        tr.appendChild(el("td", { class: "num" }));
        tr.appendChild(el("td", { class: "history" }));
        const td = el("td");
        td.appendChild(actionButtons(group + ":*", "", true));
        tr.appendChild(td);
        frag.appendChild(tr);
      }
      for (const p of visible) {
        shown++;
        if (p.statename === "RUNNING") running++;
        const s = stats[fullSpec(p)] || {};
        const tr = el("tr", {
          class: isSingle ? "proc" : "proc member",
          "data-name": spec(p),
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
            tdName.appendChild(el("div", { class: cls + (bad ? " unhealthy" : "") }, s[key]));
          }
        }
        if (s.depends_on && s.depends_on.length) {
          tdName.appendChild(el("div", { class: "note depends" }, "after " + s.depends_on.join(", ")));
        }
        tr.appendChild(tdName);
        tr.appendChild(el("td", { class: "desc", "data-uptime": p.statename === "RUNNING" ? "1" : "" }, describe(p)));
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
        frag.appendChild(tr);
      }
    }
    if (!shown) {
      const tr = el("tr", { class: "empty" });
      tr.appendChild(el("td", { colspan: "8" }, procs.length ? "No program matches the filter." : "No programs configured."));
      frag.appendChild(tr);
    }
    rowsEl.replaceChildren(frag);
    $("#counts").textContent = running + " running · " + procs.length + " total";
  }

  function tickUptimes() {
    if (!snapshot) return;
    const byName = new Map((snapshot.processes || []).map((p) => [spec(p), p]));
    for (const td of rowsEl.querySelectorAll("td.desc[data-uptime='1']")) {
      const p = byName.get(td.parentElement.dataset.name);
      if (p) td.textContent = describe(p);
    }
  }

  // -- live status -----------------------------------------------------------

  function connect() {
    const live = $("#live");
    const source = new EventSource("api/events");
    source.addEventListener("status", (ev) => {
      snapshot = JSON.parse(ev.data);
      receivedAt = Date.now();
      ProgramHistory.observe(snapshot);
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
      render();
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
  });
  const params = new URLSearchParams(location.search);
  if (params.get("message")) showMessage(params.get("message"), params.get("message").indexOf("ERROR") >= 0);
  connect();
  refreshStats();
  setInterval(tickUptimes, 1000);
  setInterval(refreshStats, STATS_EVERY);
  document.addEventListener("visibilitychange", refreshStats);
})();
