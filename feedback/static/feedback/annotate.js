// Keyboard shortcuts of the annotator's page (admin/feedback/annotate.html). Vanilla JS, no library.
//   1/2/3 feedback positive/neutral/negative · Y/P/N correctness yes/partly/no · X/Z satisfaction flags
//   A-J toggle image A-J in the correct action · G gold action given · 0 clear the correct action
//   M note (Esc leaves it) · Enter submit and next (Ctrl+Enter in the note) · S skip
(function () {
  "use strict";
  var form = document.getElementById("ann-form");
  if (!form) { return; }
  var submitButton = document.getElementById("ann-submit");
  var skipButton = document.getElementById("ann-skip");
  var goldGiven = document.getElementById("ann-gold-given");
  var note = document.getElementById("ann-note");
  var error = document.getElementById("ann-error");
  var sent = false;

  function pick(name, value) {
    var input = form.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (input) { input.checked = true; input.focus(); }
  }
  function toggle(input) {
    if (input) { input.checked = !input.checked; input.dispatchEvent(new Event("change", {bubbles: true})); }
  }
  function goldBoxes() { return Array.prototype.slice.call(form.querySelectorAll("input.ann-gold")); }
  function refreshImages() {
    goldBoxes().forEach(function (box) {
      box.closest(".ann-image").classList.toggle("gold-clicked", box.checked);
    });
  }
  function send(button) {
    if (sent) { return; }
    if (typeof form.requestSubmit === "function") { form.requestSubmit(button); } else { button.click(); }
  }

  form.addEventListener("change", function (event) {
    if (event.target.classList.contains("ann-gold") && event.target.checked) { goldGiven.checked = true; }
    refreshImages();
  });
  form.addEventListener("submit", function (event) {
    if (sent) { event.preventDefault(); return; }
    var skipping = event.submitter === skipButton;
    if (!skipping) {
      var missing = [];
      if (!form.querySelector('input[name="feedback"]:checked')) { missing.push("the feedback (1/2/3)"); }
      if (!form.querySelector('input[name="correctness"]:checked')) { missing.push("the correctness (Y/P/N)"); }
      if (missing.length) {
        event.preventDefault();
        error.textContent = "Choose " + missing.join(" and ") + " first.";
        error.hidden = false;
        return;
      }
    }
    sent = true;
  });

  var FEEDBACK = {"1": "positive", "2": "neutral", "3": "negative"};
  var CORRECTNESS = {"y": "yes", "p": "partial", "n": "no"};
  var FLAGS = {"x": "incorrect_satisfaction", "z": "partial_satisfaction"};

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.metaKey) { return; }
    var key = event.key.toLowerCase();
    if (event.target === note) {
      if (event.key === "Escape") { note.blur(); event.preventDefault(); }
      else if (event.key === "Enter" && event.ctrlKey) { event.preventDefault(); send(submitButton); }
      return;
    }
    if (event.ctrlKey) { return; }
    var handled = true;
    if (FEEDBACK[key]) { pick("feedback", FEEDBACK[key]); }
    else if (CORRECTNESS[key]) { pick("correctness", CORRECTNESS[key]); }
    else if (FLAGS[key]) { toggle(form.querySelector('input[name="flags"][value="' + FLAGS[key] + '"]')); }
    else if (key.length === 1 && key >= "a" && key <= "j") {
      toggle(form.querySelector('.ann-image[data-letter="' + key.toUpperCase() + '"] input.ann-gold'));
    }
    else if (key === "g") { toggle(goldGiven); }
    else if (key === "0") { goldBoxes().forEach(function (box) { box.checked = false; }); goldGiven.checked = false; refreshImages(); }
    else if (key === "m") { note.focus(); }
    else if (event.key === "Enter") { send(submitButton); }
    else if (key === "s") { send(skipButton); }
    else { handled = false; }
    if (handled) { event.preventDefault(); }
  });
  refreshImages();
})();
