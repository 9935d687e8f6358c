/* Portal behaviour on top of USWDS: draw each chart from the data printed beside it. The same
   numbers are always in a table next to the chart, so nothing depends on this script. */
(function () {
  "use strict";

  var palette = ["#005ea2", "#d83933", "#00a398", "#e5a000", "#8168b3", "#3d4551"];
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function drawChart(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof window.Chart === "undefined") return;
    var spec = JSON.parse(source.textContent);
    var horizontal = spec.kind === "hbar";
    var type = spec.kind === "line" ? "line" : "bar";
    var datasets = Object.keys(spec.datasets).map(function (name, index) {
      var color = palette[index % palette.length];
      return {
        label: name,
        data: spec.datasets[name],
        backgroundColor: color,
        borderColor: color,
        fill: false,
        tension: 0.2,
      };
    });
    var unit = spec.unit || "";
    if (horizontal) {
      // One bar needs about 1.6rem to stay readable, whatever the number of agencies.
      canvas.parentElement.style.height = Math.max(12, spec.labels.length * 1.6 + 4) + "rem";
    }
    new window.Chart(canvas, {
      type: type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: reduceMotion ? false : { duration: 300 },
        plugins: {
          legend: { display: datasets.length > 1 },
          tooltip: {
            callbacks: {
              label: function (item) { return item.dataset.label + ": " + item.formattedValue + unit; },
            },
          },
        },
        scales: {
          x: { beginAtZero: true, ticks: { color: "#1b1b1b" } },
          y: { beginAtZero: true, ticks: { color: "#1b1b1b", precision: 0 } },
        },
      },
    });
  }

  function drawCharts(root) {
    root.querySelectorAll("canvas[data-chart]").forEach(drawChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  } else {
    drawCharts(document);
  }
})();
