// The dashboards' charts, drawn with uPlot (vendored) from the report the
// page carries as JSON (#dash-data, the same as GET /api/v1/dashboard).
// Each chart's numbers are also in the table under it; a click on a bar
// or a point opens the session history filtered to it.

const data = JSON.parse(document.getElementById("dash-data")?.textContent || "null");
const palette = ["#0d7377", "#d97706", "#6b7bd6", "#c2410c", "#15803d", "#be185d", "#64748b"];
const charts = [];

if (data) start();

function start() {
  document.getElementById("dash-print")?.addEventListener("click", () => window.print());
  if (!window.uPlot) {
    window.addEventListener("load", drawAll, { once: true });
  } else {
    drawAll();
  }
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", drawAll);
  window.addEventListener("beforeprint", () => resizeAll(680));
  window.addEventListener("afterprint", () => resizeAll());
}

function drawAll() {
  for (const c of charts) c.plot.destroy();
  charts.length = 0;
  for (const box of document.querySelectorAll("[data-chart]")) {
    const chart = data.charts.find((c) => c.id === box.dataset.chart);
    if (chart && chart.rows.length) charts.push({ box, plot: draw(box, chart) });
  }
  document.getElementById("dash").dataset.drawn = String(charts.length);
  if (!document.body.dataset.dashObserved) {
    document.body.dataset.dashObserved = "1";
    new ResizeObserver(() => resizeAll()).observe(document.getElementById("dash"));
  }
}

function size(box, width) {
  return { width: Math.max(240, width || box.clientWidth), height: window.innerWidth < 500 ? 200 : 260 };
}

function resizeAll(width) {
  for (const c of charts) c.plot.setSize(size(c.box, width));
}

function colours() {
  const css = getComputedStyle(document.documentElement);
  return { text: css.getPropertyValue("--muted").trim() || "#56657a", grid: css.getPropertyValue("--border").trim() || "#dde3ea" };
}

function draw(box, chart) {
  const { text, grid } = colours();
  const line = { stroke: grid, width: 1 };
  const axis = { stroke: text, grid: line, ticks: line, font: "12px system-ui" };
  const time = chart.kind === "time";
  let series, values;
  if (chart.id === "goals") chart = { ...chart, rows: chart.rows.slice(0, 15) }; // the table lists them all
  if (time) {
    series = chart.series.map((name, i) => ({ label: name, stroke: palette[i % palette.length], width: 2,
      fill: chart.series.length === 1 ? `${palette[0]}22` : undefined, points: { size: 5 } }));
    values = chart.series.map((_, i) => chart.rows.map((r) => r.values[i]));
  } else {
    series = [{ label: chart.series[0], fill: `${palette[0]}cc`, stroke: palette[0], width: 1,
      paths: uPlot.paths.bars({ size: [0.7, 56] }), points: { show: false } }];
    values = [chart.rows.map((r) => r.values[0])];
  }
  const labels = chart.rows.map((r) => r.label);
  // Bar labels are spaced by the longest one, so they never overlap.
  const widest = Math.max(...labels.map((l) => short(l).length));
  const xAxis = time ? { ...axis } : { ...axis, space: Math.min(140, 7 * widest + 12),
    values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? short(labels[t] ?? "") : "")),
    incrs: [1, 2, 3, 4, 5, 6, 8, 10, 12, 20, 25, 50], size: 44 };
  const counts = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 2.5e5, 5e5, 1e6];
  const plot = new uPlot({
    ...size(box),
    cursor: { drag: { x: false, y: false }, points: { show: time } },
    legend: { show: time && chart.series.length > 1, live: true },
    scales: { x: time ? { time: true } : { time: false, range: () => [-0.6, chart.rows.length - 0.4] },
      y: { range: (u, min, max) => [0, Math.max(1, max * 1.08)] } },
    axes: [xAxis, { ...axis, size: 52, incrs: counts }],
    series: [{ label: chart.x, value: (u, v, _, i) => (i == null ? "" : labels[i]) }, ...series],
  }, [time ? chart.rows.map((r) => r.x) : chart.rows.map((_, i) => i), ...values], box);
  plot.over.style.cursor = "pointer";
  plot.over.title = "Open the sessions of this bar";
  plot.over.addEventListener("click", () => {
    const i = plot.cursor.idx;
    const href = i != null && chart.rows[i]?.history;
    if (href) location.href = href;
  });
  return plot;
}

function short(label) {
  return label.length > 14 ? `${label.slice(0, 13)}…` : label;
}
