// Small behaviour for every page. No inline scripts: the Content Security
// Policy allows only files from this site.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Language choice takes effect at once.
  for (const select of document.querySelectorAll("select.autosubmit")) {
    select.addEventListener("change", () => select.form.submit());
  }

  // Forms that change something irreversible ask first.
  for (const form of document.querySelectorAll("form.confirm")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // Forwarding: show the number field or the queue field only when needed.
  for (const form of document.querySelectorAll("form.forward")) {
    const target = form.querySelector("select.forward-target");
    const update = () => {
      const value = target.value;
      const number = form.querySelector(".when-number");
      const queue = form.querySelector(".when-queue");
      number.classList.toggle("hidden", !["internal", "external"].includes(value));
      queue.classList.toggle("hidden", value !== "vm_or_queue");
    };
    target.addEventListener("change", update);
    update();
  }
});
