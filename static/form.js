// The booking form: one click books one trip. The server already turns a second submit of
// the same form into the same workflow; this just makes the button say what is happening.
"use strict";

(function () {
  const form = document.getElementById("booking-form");
  const button = document.getElementById("book-button");
  if (!form || !button) {
    return;
  }
  form.addEventListener("submit", function () {
    button.disabled = true;
    button.textContent = "Starting the booking…";
  });
  // Coming back with the browser's Back button shows the page from its cache: enable again.
  window.addEventListener("pageshow", function () {
    button.disabled = false;
    button.textContent = "Book the trip";
  });
})();
