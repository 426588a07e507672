/* Site x KPI grid (dashboard/components/site_grid.py): the server builds it as escaped HTML and this
   writes it into its host element, outside Dash's component tree (as ~600 Dash components it kept the
   browser busy for ~1 s on every update). Clicks on its links navigate inside the app as dcc.Link does. */
(function () {
  "use strict";
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    grid: {
      render: function (html, hostId) {
        var host = document.getElementById(hostId);
        if (host) { host.innerHTML = html || ""; }
        return window.dash_clientside.no_update;
      }
    }
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".site-grid-host a[href^='/']") : null;
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) { return; }
    event.preventDefault();
    window.history.pushState({}, "", link.getAttribute("href"));
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    window.scrollTo(0, 0);
  });
})();
