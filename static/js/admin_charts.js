/* Admin charts (Chart.js, served locally): the dashboard's activity per
   minute and the statistics drawer's time series. A canvas names the JSON
   script holding its data (`data-source`); after an htmx swap the chart
   takes the new data in place. */
(function () {
  "use strict";
  const colors = { attempts: "#58a6ff", wrong: "#f85149", solves: "#39d353" };
  const labels = { attempts: "Submissions", wrong: "Wrong", solves: "Solves" };

  function label(iso, span) {
    // Times in UTC, as precise as the span needs.
    const text = iso.replace("T", " ");
    return span > 86400e3 ? text.slice(5, 16) : text.slice(11, 16);
  }

  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.source);
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    const span = data.labels.length > 1
      ? Date.parse(data.labels[data.labels.length - 1]) - Date.parse(data.labels[0]) : 0;
    const series = ["attempts", "wrong", "solves"].filter((k) => k in data);
    const datasets = series.map((k) => ({
      label: labels[k], data: data[k], backgroundColor: colors[k], borderColor: colors[k],
    }));
    const chart = Chart.getChart(canvas);
    if (chart) {
      chart.data.labels = data.labels.map((l) => label(l, span));
      chart.data.datasets.forEach((d, i) => { d.data = datasets[i].data; });
      chart.update("none");
      return;
    }
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels.map((l) => label(l, span)), datasets },
      options: {
        animation: false,
        aspectRatio: Number(canvas.dataset.aspect || 2),
        scales: {
          x: { stacked: false, ticks: { maxTicksLimit: 12 } },
          y: { beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { labels: { boxWidth: 12 } } },
      },
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-source]").forEach(draw);
  }
  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
