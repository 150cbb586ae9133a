// Live parts of pages (the safety dashboard, urgent requests): every element with the class
// "js-live" names a server-sent events stream (data-events) and the address of its own HTML
// (data-part). On each "update" event the part is fetched again and swapped in, so nobody
// reloads. While the user is typing in a form inside the part, the swap waits: a note with a
// button (data-pending, data-pending-button) says there is news. Without JavaScript or
// EventSource the pages still work (they refresh themselves every 30 seconds).
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch) {
    return;
  }
  function watch(live) {
    var source = new EventSource(live.getAttribute("data-events"));
    var busy = false;
    var again = false;
    var editing = false;
    var note = null;
    live.addEventListener("input", function () { editing = true; });
    live.addEventListener("change", function () { editing = true; });
    function pending() {
      if (note || !live.getAttribute("data-pending")) {
        return;
      }
      note = document.createElement("p");
      note.className = "notice";
      note.setAttribute("role", "status");
      note.setAttribute("data-testid", "live-pending");
      note.appendChild(document.createTextNode(live.getAttribute("data-pending") + " "));
      var show = document.createElement("button");
      show.type = "button";
      show.className = "button secondary small";
      show.appendChild(document.createTextNode(live.getAttribute("data-pending-button") || "OK"));
      show.addEventListener("click", function () {
        editing = false;
        refresh();
      });
      note.appendChild(show);
      live.parentNode.insertBefore(note, live);
    }
    function refresh() {
      if (editing) {
        pending();
        return;
      }
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
            if (note) {
              note.parentNode.removeChild(note);
              note = null;
            }
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
    // The page was drawn at this version; an update that names it changes nothing (the first
    // event after connecting usually does), so the part is not swapped under the user's finger.
    var version = live.getAttribute("data-version");
    source.addEventListener("update", function (event) {
      if (version !== null && event.data === version) {
        return;
      }
      version = event.data;
      refresh();
    });
    live.setAttribute("data-live", "on");
  }
  var parts = document.querySelectorAll(".js-live");
  for (var i = 0; i < parts.length; i++) {
    watch(parts[i]);
  }
})();
