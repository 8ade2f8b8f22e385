/* cshub admin UI: charts from server-built specs, small conveniences. No inline script
   anywhere (the Content-Security-Policy forbids it); everything hangs off data-* attributes. */
(function () {
  "use strict";

  var PALETTE = ["#2f6fb0", "#c0392b", "#1b7f3b", "#e67e22", "#8e44ad", "#16a085",
                 "#7f8c8d", "#d35400", "#2c3e50", "#b7950b"];

  function spec(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function build(canvas) {
    var s = spec(canvas.getAttribute("data-chart"));
    if (!s || typeof Chart === "undefined") { return; }
    var box = canvas.parentElement;
    box.style.height = (box.getAttribute("data-height") || 220) + "px";
    var spark = s.type === "spark";
    var datasets = s.datasets.map(function (d, i) {
      var colour = d.backgroundColor || PALETTE[i % PALETTE.length];
      var out = Object.assign({}, d);
      if (!d.backgroundColor) { out.backgroundColor = colour; }
      out.borderColor = Array.isArray(colour) ? colour : colour;
      if (s.type !== "bar") {
        out.borderWidth = spark ? 1.5 : 2;
        out.pointRadius = spark ? 0 : 2;
        out.fill = false;
        out.spanGaps = true;
        out.tension = 0.2;
      }
      return out;
    });
    var y = s.y || {};
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        legend: { display: !spark && s.legend !== false && datasets.length > 1, position: "bottom" },
        tooltip: { enabled: !spark }
      },
      scales: spark ? { x: { display: false }, y: { display: false } } : {
        y: {
          min: y.min, max: y.max, beginAtZero: s.type === "bar",
          ticks: { callback: function (v) { return v + (y.suffix || ""); } }
        }
      }
    };
    new Chart(canvas, { type: spark ? "line" : s.type, data: { labels: s.labels, datasets: datasets },
                        options: options });
  }

  function ready() {
    document.querySelectorAll("canvas[data-chart]").forEach(build);
    document.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, parseFloat(el.getAttribute("data-width")))) + "%";
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
