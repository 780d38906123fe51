/* ftpush panel: live import progress (decision 0902). Our own few lines, no library.
 *
 * The element marked [data-live] names a JSON endpoint of the panel. Every element inside
 * it marked [data-import="<id>"] is one import; its [data-field] cells, status badge and
 * <progress data-bar> are updated in place from the endpoint's answer. It polls every
 * 2 s while something is processed or sent, every 10 s otherwise on the newest page (to
 * say when new files arrive), not at all while the tab is hidden, and stops for good on
 * an error (logged out, offline): the page without this script shows the same, on reload.
 */
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root || !window.fetch) {
    return;
  }
  var FAST = 2000;
  var SLOW = 10000;
  var timer = null;
  var stopped = false;
  var inflight = false;

  function each(selector, scope, action) {
    Array.prototype.forEach.call((scope || root).querySelectorAll(selector), action);
  }

  function show(el) { el.hidden = false; }
  function hide(el) { el.hidden = true; }

  function update(el, imp) {
    var wasFinal = el.getAttribute("data-final") === "yes";
    Object.keys(imp.cells).forEach(function (name) {
      each('[data-field="' + name + '"]', el, function (cell) {
        if (cell.textContent !== imp.cells[name]) {
          cell.textContent = imp.cells[name];
        }
      });
    });
    each("[data-status]", el, function (badge) { badge.setAttribute("data-status", imp.status); });
    each("progress[data-bar]", el, function (bar) {
      if (imp.bar) {
        bar.max = imp.bar.max;
        bar.value = imp.bar.value;
        show(bar);
      } else {
        hide(bar);
      }
    });
    el.setAttribute("data-changing", imp.changing ? "yes" : "no");
    el.setAttribute("data-final", imp.final ? "yes" : "no");
    if (imp.final && !wasFinal) {
      each("[data-live-announce]", null, function (region) {
        region.textContent = el.getAttribute("data-name") + ": " + imp.status;
      });
      each("[data-live-done]", null, show);
    }
    if (!imp.running) {
      each('[data-live-running="' + imp.id + '"]', document, hide);
    }
  }

  function apply(data) {
    var byId = {};
    data.imports.forEach(function (imp) { byId[String(imp.id)] = imp; });
    each("[data-import]", null, function (el) {
      var imp = byId[el.getAttribute("data-import")];
      if (imp) {
        update(el, imp);
      }
    });
    var newest = root.getAttribute("data-newest");
    if (newest !== null && data.newest > Number(newest)) {
      each("[data-live-newer]", null, show);
    }
  }

  function schedule() {
    var busy = root.querySelector('[data-changing="yes"]') !== null;
    var wait = busy ? FAST : (root.hasAttribute("data-newest") ? SLOW : 0);
    if (!stopped && wait) {
      timer = window.setTimeout(poll, wait);
    }
  }

  function poll() {
    timer = null;
    if (document.hidden || inflight) {
      return; /* visibilitychange resumes */
    }
    inflight = true;
    var ids = [];
    each("[data-import]", null, function (el) { ids.push(el.getAttribute("data-import")); });
    var url = root.getAttribute("data-live") + "?ids=" + encodeURIComponent(ids.join(","));
    fetch(url, { credentials: "same-origin", redirect: "error", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        inflight = false;
        apply(data);
        schedule();
      })
      .catch(function () {
        inflight = false;
        stopped = true;
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer === null && !stopped) {
      poll();
    }
  });
  schedule();
})();
