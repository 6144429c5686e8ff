// While a version is being certified, poll its progress and update the bar; reload when it finishes.
(function () {
  var box = document.getElementById("certification");
  if (!box || box.dataset.running !== "true") { return; }
  var bar = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  function poll() {
    fetch(box.dataset.progressUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { return; }
        if (bar) { bar.max = Math.max(p.cases_total, 1); bar.value = p.cases_done; }
        if (text) { text.textContent = p.cases_done + " / " + p.cases_total; }
        if (p.running) { setTimeout(poll, 2000); } else { window.location.reload(); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1500);
})();
