/* Charts of the scoreboard and principal pages (Chart.js, served locally). */
(function () {
  "use strict";
  const grid = { color: "rgba(139, 148, 158, .15)" };
  const ticks = { color: "#8b949e" };
  const palette = ["#39d353", "#58a6ff", "#d29922", "#f85149", "#bc8cff",
    "#56d4dd", "#ff7b72", "#e3b341", "#7ee787", "#a5d6ff"];

  function timeScale(points) {
    // Chart.js needs a date adapter for "time" scales; use epoch numbers instead.
    return points.map((p) => ({ x: Date.parse(p.x), y: p.y }));
  }
  const timeAxis = {
    type: "linear", grid, ticks: {
      color: ticks.color, maxTicksLimit: 6,
      callback: (v) => new Date(v).toISOString().slice(5, 16).replace("T", " "),
    },
  };

  async function timeline(canvas) {
    const data = await (await fetch(canvas.dataset.url)).json();
    new Chart(canvas, {
      type: "line",
      data: { datasets: data.datasets.map((d, i) => ({
        label: d.label, data: timeScale(d.data), stepped: true,
        borderColor: palette[i % palette.length], pointRadius: 0, borderWidth: 2,
      })) },
      options: { animation: false, parsing: true, scales: { x: timeAxis, y: { grid, ticks } },
        plugins: { legend: { labels: { color: ticks.color, boxWidth: 12 } } } },
    });
  }

  async function scatter(canvas) {
    const data = await (await fetch(canvas.dataset.url)).json();
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: data.datasets },
      options: {
        animation: false,
        scales: {
          x: { title: { display: true, text: "score", color: ticks.color }, grid, ticks },
          y: { reverse: true, min: 1, max: Math.max(data.max_rank, 1),
               title: { display: true, text: "rank", color: ticks.color }, grid, ticks },
        },
        plugins: {
          legend: { labels: { color: ticks.color } },
          tooltip: { callbacks: { label: (c) =>
            `#${c.raw.rank} ${c.raw.label}: ${c.raw.score} points, ${c.raw.solves} solves` } },
        },
      },
    });
  }

  function history(canvas) {
    const points = JSON.parse(document.getElementById("history-data").textContent);
    new Chart(canvas, {
      type: "line",
      data: { datasets: [{ label: "score", data: timeScale(points), stepped: true,
        borderColor: palette[0], pointRadius: 2 }] },
      options: { animation: false, scales: { x: timeAxis, y: { grid, ticks } },
        plugins: { legend: { display: false } } },
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const run = (id, fn) => { const el = document.getElementById(id); if (el) fn(el); };
    run("timeline-chart", timeline);
    run("scatter-chart", scatter);
    run("history-chart", history);
  });
})();
