// The coordinator's "Copy" buttons: copy the read-only field they name to the clipboard.
// Without JavaScript the button stays hidden and the field can be selected and copied by hand.
(function () {
  "use strict";

  function copy(field) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(field.value);
    }
    field.select();
    return document.execCommand("copy") ? Promise.resolve() : Promise.reject(new Error("copy"));
  }

  function setUp(button) {
    var field = document.getElementById(button.dataset.copyTarget);
    var status = document.getElementById(button.dataset.copyStatus);
    if (!field || !status) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(field).then(
        function () { status.textContent = button.dataset.copied; },
        function () { field.select(); status.textContent = button.dataset.copyFailed; }
      );
    });
  }

  function start() {
    document.querySelectorAll("button[data-copy-target]").forEach(setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
