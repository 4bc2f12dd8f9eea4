// The dashboard's charts (analytics.html): Chart.js draws each <canvas data-chart> from the JSON in
// <script id="chart-data"> (no inline scripts: the CSP forbids them). Numbers come from the server's
// roll-ups; this file only draws them.
(function () {
  "use strict";

  var PALETTE = ["#1f5fa8", "#d9822b", "#2e8540", "#b3261e", "#6b4fa0", "#5f6b7a", "#0f8a8a"];

  function datasets(series, kind) {
    return Object.keys(series).map(function (name, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: name,
        data: series[name],
        borderColor: colour,
        backgroundColor: kind === "line" ? colour : colour + "cc",
        spanGaps: true,
        tension: 0.2
      };
    });
  }

  function config(name, kind, data) {
    var stacked = name === "handoffs" || name === "lookups";
    var labels = data.periods;
    var sets;
    if (name === "volume") {
      sets = datasets(data.volume, kind);
    } else if (name === "containment") {
      sets = datasets(data.rates, kind);
    } else if (name === "ratings") {
      sets = datasets(data.ratings, kind);
    } else if (name === "handoffs" || name === "lookups") {
      sets = datasets(data[name], kind);
    } else {
      labels = data[name].labels;
      sets = [{ label: "", data: data[name].values, backgroundColor: PALETTE[0] + "cc" }];
    }
    return {
      type: kind,
      data: { labels: labels, datasets: sets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: name === "procedures" ? "y" : "x",
        plugins: { legend: { display: sets.length > 1 || !!sets[0].label } },
        scales: {
          x: { stacked: stacked },
          y: { stacked: stacked, beginAtZero: true, suggestedMax: name === "ratings" ? 5 : undefined }
        }
      }
    };
  }

  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || typeof window.Chart === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var name = canvas.getAttribute("data-chart");
      new window.Chart(canvas, config(name, canvas.getAttribute("data-kind"), data));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
