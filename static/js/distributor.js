// The distributor's workspace: "choose all" for batch printing, and focus on the first
// field with an error after htmx swaps a form in.
(() => {
  "use strict";

  function setUpSelectAll(root) {
    const wrapper = root.querySelector("[data-select-all]");
    if (!wrapper) return;
    const all = wrapper.querySelector("input");
    const boxes = () => [...root.querySelectorAll("input.pick-card")];
    wrapper.hidden = false;
    all.addEventListener("change", () => boxes().forEach((box) => { box.checked = all.checked; }));
    root.addEventListener("change", (event) => {
      if (!event.target.classList.contains("pick-card")) return;
      const checked = boxes().filter((box) => box.checked).length;
      all.checked = checked === boxes().length;
      all.indeterminate = checked > 0 && checked < boxes().length;
    });
  }

  document.addEventListener("DOMContentLoaded", () => setUpSelectAll(document));

  // htmx:load fires on the new form that htmx swapped in after a submit.
  document.addEventListener("htmx:load", (event) => {
    const element = event.detail.elt;
    if (!element || element.tagName !== "FORM") return;
    const invalid = element.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
  });
})();
