/* Kiosk mode (dashboard/pages/kiosk.py): which slide is visible, the clock, and self-healing reloads.
   The slide comes from the wall clock, so reloads and server restarts never reset the rotation. */
(function () {
  "use strict";
  var loadedAt = Date.now();
  var lastProbe = 0;
  var reloading = false;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function reloadWhenServerAnswers() {
    // Never reload into a browser error page: only when the server is up again.
    if (reloading) { return; }
    fetch("/healthz", {cache: "no-store"}).then(function (r) {
      if (r.ok) { reloading = true; window.location.reload(); }
    }).catch(function () { /* server down: try again at a later tick */ });
  }

  function probeSession() {
    // A lost session (server restarted with new keys, or the token was revoked) shows up here; the
    // reload signs the screen in again from its kiosk cookie, or shows the token form if revoked.
    fetch("/kiosk/ping", {cache: "no-store", redirect: "manual", credentials: "same-origin"}).then(function (r) {
      var json = (r.headers.get("content-type") || "").indexOf("application/json") >= 0;
      if (r.type === "opaqueredirect" || r.status === 401 || (r.ok && !json)) { reloadWhenServerAnswers(); }
    }).catch(function () { /* server down */ });
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    kiosk: {
      tick: function (n, playlist) {
        var ctx = window.dash_clientside.callback_context;
        var count = ctx && ctx.outputs_list ? ctx.outputs_list[0].length : 0;
        var now = Date.now();
        var interval = Math.max(1, (playlist && playlist.interval) || 30) * 1000;
        var slides = (playlist && playlist.slides) || [];
        var titles = (playlist && playlist.titles) || [];
        var total = Math.max(1, count || slides.length);
        var slot = Math.floor(now / interval);
        var current = slot % total;
        var hidden = [];
        for (var i = 0; i < count; i++) { hidden.push(i !== current); }
        var next = (current + 1) % total;
        var left = Math.ceil((interval - (now % interval)) / 1000);
        var d = new Date(now);
        var clock = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
        var position = (titles[current] || "") + " · " + (current + 1) + " of " + total +
          (total > 1 ? " · next: " + (titles[next] || "") + " in " + left + " s" : "");

        var reloadMs = Math.max(1, (playlist && playlist.reload) || 60) * 60000;
        if (now - loadedAt > reloadMs) { reloadWhenServerAnswers(); }
        if (now - lastProbe > 15000) { lastProbe = now; probeSession(); }
        document.body.setAttribute("data-kiosk-slide", String(current));
        return [hidden, clock, position];
      },
      // The notice of ignored playlist entries goes when its one-shot interval fires (NOTICE_S).
      hideNotice: function (n) {
        return n ? true : window.dash_clientside.no_update;
      }
    }
  });
})();
