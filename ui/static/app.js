// Times in the viewer's time zone; without JavaScript they stay in UTC.
document.querySelectorAll("time[datetime]").forEach(function (t) {
  var d = new Date(t.getAttribute("datetime"));
  if (!isNaN(d)) { t.textContent = d.toLocaleString(); t.title = t.getAttribute("datetime"); }
});

// A release's progress, live: one line per step, then the result.
(function () {
  var pre = document.getElementById("progress");
  if (!pre || pre.dataset.done === "true" || !window.EventSource) return;
  var out = document.getElementById("outcome");
  var es = new EventSource(pre.dataset.events);
  pre.textContent = "";
  es.addEventListener("line", function (e) { pre.textContent += e.data + "\n"; });
  es.addEventListener("done", function (e) {
    es.close();
    var failed = e.data !== "ok";
    out.textContent = "";
    var s = document.createElement("span");
    s.className = failed ? "result-failed" : "result-ok";
    s.textContent = e.data;
    out.appendChild(s);
  });
})();
