// The print button of the printable medical map: shown only when scripts run (without them the
// page says to use the browser's print), it opens the browser's print dialogue.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("[data-print]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function () { window.print(); });
  }
})();
