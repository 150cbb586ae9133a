// The safety check dashboard, live: on each server-sent "update" the live part of the page is
// fetched again and swapped in, so the coordinator never reloads. Without JavaScript or
// EventSource the page still works (it refreshes itself every 30 seconds, see the template).
(function () {
  "use strict";
  var live = document.getElementById("safety-live");
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var source = new EventSource(live.getAttribute("data-events"));
  var busy = false;
  var again = false;
  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(live.getAttribute("data-part"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) {
          live.innerHTML = html;
          live.setAttribute("data-updated", String(Date.now()));
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }
  source.addEventListener("update", refresh);
  live.setAttribute("data-live", "on");
})();
