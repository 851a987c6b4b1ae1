/* Charts of the scoreboard and principal pages (Chart.js, served locally). */
(function () {
  "use strict";
  const grid = { color: "rgba(139, 148, 158, .15)" };
  const ticks = { color: "#8b949e" };
  const palette = ["#39d353", "#58a6ff", "#d29922", "#f85149", "#bc8cff",
    "#56d4dd", "#ff7b72", "#e3b341", "#7ee787", "#a5d6ff"];

  function timeScale(points, end) {
    // Chart.js needs a date adapter for "time" scales; use epoch numbers instead.
    // Each line goes on to `end` (now, or the freeze) at its last score.
    const data = points.map((p) => ({ x: Date.parse(p.x), y: p.y }));
    if (data.length && end > data[data.length - 1].x) {
      data.push({ x: end, y: data[data.length - 1].y });
    }
    return data;
  }

  function timeAxis(datasets) {
    // Labels as precise as the span needs: seconds when solves are minutes apart.
    const xs = datasets.flatMap((d) => d.data.map((p) => p.x));
    const span = xs.length ? Math.max(...xs) - Math.min(...xs) : 0;
    const [from, to] = span <= 10 * 60e3 ? [11, 19] : span <= 86400e3 ? [11, 16] : [5, 16];
    return {
      type: "linear", grid, ticks: {
        color: ticks.color, maxTicksLimit: 6,
        callback: (v) => new Date(v).toISOString().slice(from, to).replace("T", " "),
      },
    };
  }

  async function timeline(canvas) {
    const data = await (await fetch(canvas.dataset.url)).json();
    const end = data.end ? Date.parse(data.end) : Date.now();
    const datasets = data.datasets.map((d, i) => ({
      label: d.label, data: timeScale(d.data, end), stepped: true,
      borderColor: palette[i % palette.length], pointRadius: 0, borderWidth: 2,
    }));
    new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: { animation: false, parsing: true,
        scales: { x: timeAxis(datasets), y: { grid, ticks, beginAtZero: true } },
        plugins: { legend: { labels: { color: ticks.color, boxWidth: 12 } } } },
    });
  }

  async function scatter(canvas) {
    const data = await (await fetch(canvas.dataset.url)).json();
    // Room around the points: none sits on an edge, where it would be cut.
    const scores = data.datasets.flatMap((d) => d.data.map((p) => p.x));
    const low = Math.min(0, ...scores), high = Math.max(1, ...scores);
    const pad = Math.max((high - low) * 0.08, 1);
    const ranks = Math.max(data.max_rank, 1);
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: data.datasets },
      options: {
        animation: false,
        scales: {
          x: { min: low - pad, max: high + pad, grid,
               title: { display: true, text: "score", color: ticks.color },
               ticks: { color: ticks.color,
                        callback: (v) => (v >= low && v <= high ? String(v) : "") } },
          y: { reverse: true, min: 0.5, max: ranks + 0.5, grid,
               title: { display: true, text: "rank", color: ticks.color },
               // Whole ranks only, at most about ten of them.
               afterBuildTicks: (axis) => {
                 const step = Math.ceil(ranks / 10);
                 axis.ticks = Array.from({ length: Math.ceil(ranks / step) },
                   (_, i) => ({ value: 1 + i * step }));
               },
               ticks: { color: ticks.color } },
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
    const data = JSON.parse(document.getElementById("history-data").textContent);
    const end = data.end ? Date.parse(data.end) : Date.now();
    const datasets = [{ label: "score", data: timeScale(data.points, end), stepped: true,
      borderColor: palette[0], pointRadius: 2 }];
    new Chart(canvas, {
      type: "line",
      data: { datasets },
      options: { animation: false,
        scales: { x: timeAxis(datasets), y: { grid, ticks, beginAtZero: true } },
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
