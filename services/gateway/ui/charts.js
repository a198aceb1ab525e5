// Plain SVG charts, no library: bars for figures per day, agent or model, and lines for a
// pool's counts over time. Every mark carries its value as text (a label or a <title>), and
// the bars their exact value in data-value, so what the chart shows can be checked.

import { svg } from "./timeline.js";

const HEIGHT = 180;
const PAD = { top: 18, right: 12, bottom: 42, left: 56 };
const LABEL_ROOM = 64; // px a text under or over a bar needs

/** Vertical bars: items [{label, value}], format(value) for the labels. */
export function barChart(host, items, { format = String, testid = "chart-bar", width = 640 } = {}) {
  host.replaceChildren();
  frame(host, width);
  if (!items.length) {
    host.append(
      svg(
        "text",
        { x: width / 2, y: HEIGHT / 2, "text-anchor": "middle", class: "empty-chart" },
        "No data in this range",
      ),
    );
    return;
  }
  const max = Math.max(...items.map((item) => item.value), 0) || 1;
  const plotWidth = width - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / items.length;
  const barWidth = Math.max(Math.min(slot * 0.7, 60), 2);
  const labelEvery = Math.ceil(LABEL_ROOM / slot); // labels never overlap
  axis(host, width, max, format);
  items.forEach((item, i) => {
    const h = (item.value / max) * plotHeight;
    const x = PAD.left + i * slot + (slot - barWidth) / 2;
    const y = PAD.top + plotHeight - h;
    const bar = svg("g", {
      class: "chart-bar",
      "data-testid": testid,
      "data-label": item.label,
      "data-value": item.value,
    });
    bar.append(
      svg("title", {}, `${item.label}: ${format(item.value)}`),
      svg("rect", { x, y, width: barWidth, height: Math.max(h, item.value > 0 ? 1 : 0), rx: 2 }),
    );
    if (slot >= LABEL_ROOM) {
      bar.append(
        svg(
          "text",
          { x: x + barWidth / 2, y: y - 4, "text-anchor": "middle", class: "bar-value" },
          format(item.value),
        ),
      );
    }
    host.append(bar);
    if (i % labelEvery === 0) {
      host.append(
        svg(
          "text",
          {
            x: x + barWidth / 2,
            y: HEIGHT - PAD.bottom + 14,
            "text-anchor": "middle",
            class: "tick",
          },
          shorten(item.label),
        ),
      );
    }
  });
}

/** Lines over time: series [{name, points: [[timeMs, value]]}] between start and end (ms). */
export function lineChart(host, series, { start, end, width = 640, testid = "chart-line" } = {}) {
  host.replaceChildren();
  frame(host, width);
  const values = series.flatMap((s) => s.points.map(([, v]) => v));
  const top = Math.max(...values, 2);
  const max = Math.ceil(top / 2) * 2; // counts: whole numbers on the axis
  const plotWidth = width - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - start) / Math.max(end - start, 1)) * plotWidth;
  const y = (v) => PAD.top + plotHeight - (v / max) * plotHeight;
  axis(host, width, max, (v) => String(Math.round(v)));
  for (const minutesAgo of [60, 45, 30, 15, 0]) {
    const t = end - minutesAgo * 60000;
    if (t < start) continue;
    host.append(
      svg(
        "text",
        { x: x(t), y: HEIGHT - PAD.bottom + 14, "text-anchor": "middle", class: "tick" },
        minutesAgo ? `-${minutesAgo} min` : "now",
      ),
    );
  }
  series.forEach((one, index) => {
    if (!one.points.length) return;
    const path = one.points
      .map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" ");
    const last = one.points[one.points.length - 1][1];
    const line = svg("g", {
      class: `chart-line series-${index}`,
      "data-testid": testid,
      "data-series": one.name,
      "data-last": last,
    });
    line.append(svg("title", {}, `${one.name}: ${last} now`), svg("path", { d: path }));
    host.append(line);
  });
  // the legend, below the axis
  series.forEach((one, index) => {
    const lx = PAD.left + index * 110;
    host.append(
      svg("rect", {
        x: lx,
        y: HEIGHT - 16,
        width: 10,
        height: 10,
        class: `legend series-${index}`,
      }),
      svg("text", { x: lx + 14, y: HEIGHT - 7, class: "tick" }, one.name),
    );
  });
}

function frame(host, width) {
  host.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
  host.setAttribute("width", String(width));
  host.setAttribute("height", String(HEIGHT));
}

function axis(host, width, max, format) {
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotHeight - fraction * plotHeight;
    host.append(
      svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y, y2: y, class: "grid" }),
      svg(
        "text",
        { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "tick" },
        format(max * fraction),
      ),
    );
  }
}

function shorten(label) {
  return label.length > 14 ? `${label.slice(0, 13)}…` : label;
}
