// Live preview of a template while it is written: progressive enhancement of the template form,
// whose "Preview" button does the same without JavaScript. A moment after typing stops, the form
// is posted to its data-preview address and the answer (the preview's HTML, rendered by the
// server exactly as the message will be) replaces the preview below the form.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview]");
  var target = document.getElementById("template-preview");
  if (!form || !target || !window.fetch || !window.FormData || !window.URLSearchParams) {
    return;
  }
  var timer = null;
  var asked = 0;
  function refresh() {
    var mine = ++asked;
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin"
    })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        // Only the newest answer counts: an older one may arrive after it.
        if (html !== null && mine === asked) {
          target.innerHTML = html;
        }
      })
      .catch(function () {});
  }
  form.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  });
})();
