// Report charts (Chart.js, vendored in static/vendor/). No inline JS under the strict CSP: the data comes
// from a <script type="application/json" id="…"> data island, and each chart is described by attributes:
//   <canvas data-chart="<island id>" data-series="<key in the island>" data-type="line|bar"
//           data-label-opens="…" data-label-clicks="…">
// The island's series look like {"labels": [...], "display": [...], "opens": [...], "clicks": [...]}.
(function () {
  "use strict";

  var islands = {};

  function island(id) {
    if (!(id in islands)) {
      var node = document.getElementById(id);
      try {
        islands[id] = node ? JSON.parse(node.textContent) : null;
      } catch (e) {
        islands[id] = null;
      }
    }
    return islands[id];
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function draw(canvas) {
    var data = island(canvas.getAttribute("data-chart"));
    var series = data && data[canvas.getAttribute("data-series")];
    if (!series || !window.Chart) { return; }
    var type = canvas.getAttribute("data-type") === "bar" ? "bar" : "line";
    var brand = cssVar("--brand", "#2458d6");
    var accent = cssVar("--accent", "#f59e0b");
    function dataset(label, values, colour) {
      return {
        label: label,
        data: values,
        borderColor: colour,
        backgroundColor: colour,
        borderWidth: 2,
        pointRadius: 0,
        tension: 0
      };
    }
    canvas.chart = new window.Chart(canvas, {
      type: type,
      data: {
        labels: series.display || series.labels,
        datasets: [
          dataset(canvas.getAttribute("data-label-opens") || "Opens", series.opens, brand),
          dataset(canvas.getAttribute("data-label-clicks") || "Clicks", series.clicks, accent)
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { autoSkip: true, maxTicksLimit: 12, maxRotation: 0 } },
          y: { beginAtZero: true, ticks: { precision: 0 } }
        },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }

  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
