/* In-page targets after client-side navigation ("every definition one click away"): a link such as
   /definitions#kpi-mttd changes the URL without loading a page (dcc.Link, the site grid's links), and the
   page is drawn afterwards, so the browser never scrolls to the #fragment. This waits for the target to
   appear, scrolls it into view, highlights it (.anchor-target in hub.css) and moves focus to it.
   dcc.Link scrolls to the top right after it announces the new URL: the work is deferred past that. */
(function () {
  "use strict";
  var HIGHLIGHT = "anchor-target";
  var WAIT_MS = 15000;  // a slow page still lands; after that a later DOM change is not a navigation
  var observer = null;
  var timer = null;

  function wanted() {
    var hash = window.location.hash;
    if (!hash || hash.length < 2) { return null; }
    try { return decodeURIComponent(hash.slice(1)); } catch (e) { return null; }
  }

  function stop() {
    if (observer) { observer.disconnect(); observer = null; }
    if (timer) { clearTimeout(timer); timer = null; }
  }

  function land(el) {
    stop();
    var old = document.querySelectorAll("." + HIGHLIGHT);
    for (var i = 0; i < old.length; i++) { if (old[i] !== el) { old[i].classList.remove(HIGHLIGHT); } }
    el.classList.add(HIGHLIGHT);
    if (!el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "-1"); }
    el.focus({preventScroll: true});  // keyboard and screen-reader users start from the definition too
    el.scrollIntoView({block: "start"});
  }

  function follow() {
    stop();
    var id = wanted();
    if (!id) { return; }
    var el = document.getElementById(id);
    if (el) { land(el); return; }
    observer = new MutationObserver(function () {
      var found = document.getElementById(id);
      if (found) { land(found); }
    });
    observer.observe(document.body, {childList: true, subtree: true});
    timer = setTimeout(stop, WAIT_MS);
  }

  function later() { setTimeout(follow, 0); }

  window.addEventListener("_dashprivate_pushstate", later);  // dcc.Link and assets/grid.js
  window.addEventListener("popstate", later);  // back and forward
  window.addEventListener("hashchange", later);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", later);  // a full load of /definitions#kpi-...
  } else {
    later();
  }
})();
