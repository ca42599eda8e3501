// Follows one of the daemon's endless log streams (/logtail/..., /mainlogtail)
// with fetch() and appends what arrives to a <pre>.  The daemon wakes these
// streams itself when the log is written, so nothing here polls.
"use strict";

window.LogStream = (function () {
  const MAX_CHARS = 400000; // keep the page light on long-running tails

  function follow(url, pre, opts) {
    opts = opts || {};
    const controller = new AbortController();
    const decoder = new TextDecoder();
    const status = opts.onStatus || function () {};
    let stopped = false;

    function atBottom() {
      return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
    }

    function append(text) {
      if (!text) return;
      const stick = opts.follow ? opts.follow() : atBottom();
      pre.textContent += text;
      if (pre.textContent.length > MAX_CHARS) {
        pre.textContent = pre.textContent.slice(-MAX_CHARS * 0.8);
      }
      if (stick) pre.scrollTop = pre.scrollHeight;
    }

    async function run() {
      status("connecting…");
      let response;
      try {
        response = await fetch(url, { signal: controller.signal, cache: "no-store" });
      } catch (err) {
        if (!stopped) status("connection failed");
        return;
      }
      if (!response.ok) {
        status(response.status === 404 ? "no log file" : "error " + response.status);
        return;
      }
      status("following");
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          append(decoder.decode(value, { stream: true }));
        }
        append(decoder.decode());
        if (!stopped) status("ended");
      } catch (err) {
        if (!stopped) status("disconnected");
      }
    }

    run();
    return {
      stop: function () {
        stopped = true;
        controller.abort();
      },
    };
  }

  return { follow: follow };
})();
