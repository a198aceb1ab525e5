// Pools, for platform operators: each worker pool's backlog, running and waiting tasks and
// workers over the last hour (GET /v1/pools/history), its figures now (GET /v1/pools), and
// its replicas (PUT /v1/pools/{name}/replicas).

import { api } from "./api.js";
import { $, announce, h } from "./dom.js";
import { lineChart } from "./charts.js";
import { svg } from "./timeline.js";

const REFRESH_MS = 10000;
const SERIES = [
  ["backlog", "backlog"],
  ["running", "running"],
  ["waiting", "waiting"],
  ["workers", "workers"],
];

export class PoolsView {
  constructor() {
    this.timer = null;
  }

  show() {
    $("view-pools").hidden = false;
    this.load();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.load({ quiet: true }), REFRESH_MS);
  }

  hide() {
    clearInterval(this.timer);
    $("view-pools").hidden = true;
  }

  async load({ quiet = false } = {}) {
    let now;
    let history;
    try {
      [now, history] = await Promise.all([api("/v1/pools"), api("/v1/pools/history?minutes=60")]);
    } catch (exc) {
      if (!quiet) $("pools-error").textContent = `Could not load the pools: ${exc.detail}`;
      return;
    }
    $("pools-error").textContent = "";
    const list = $("pool-list");
    const samples = new Map(history.items.map((pool) => [pool.name, pool.samples]));
    const range = { start: Date.parse(history.start), end: Date.parse(history.end) };
    for (const pool of now.items) {
      let card = list.querySelector(`[data-pool="${CSS.escape(pool.name)}"]`);
      if (!card) {
        card = poolCard(pool);
        list.append(card);
      }
      fillCard(card, pool, samples.get(pool.name) || [], range);
    }
  }
}

function poolCard(pool) {
  const input = h("input", {
    type: "number",
    min: pool.limits.min_replicas,
    max: pool.limits.max_replicas,
    "data-testid": "replicas-input",
    "aria-label": `Replicas of ${pool.name}`,
  });
  const form = h(
    "form",
    // the API's answer says what is wrong with a number out of range, not a browser tooltip
    { class: "replicas", "data-testid": "replicas-form", novalidate: true },
    h("label", {}, "Replicas ", input),
    h("button", { type: "submit", "data-testid": "replicas-save" }, "Scale"),
    h("span", { class: "muted" }, `${pool.limits.min_replicas}–${pool.limits.max_replicas}`),
    h("p", { class: "error", role: "alert", "data-testid": "replicas-error" }),
  );
  const card = h(
    "article",
    { class: "panel pool", "data-testid": "pool-card", "data-pool": pool.name },
    h("h3", {}, pool.name),
    h("p", { class: "muted" }, pool.description || ""),
    h("dl", { class: "figures", "data-testid": "pool-now" }),
    svg("svg", {
      class: "chart",
      "data-testid": "pool-chart",
      role: "img",
      "aria-label": `${pool.name} over the last hour`,
    }),
    form,
  );
  input.value = String(pool.replicas.desired);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    scale(card, pool.name, Number(input.value));
  });
  return card;
}

function fillCard(card, pool, samples, range) {
  const backlog =
    (pool.backlog.workflow_tasks.count ?? 0) + (pool.backlog.activity_tasks.count ?? 0);
  const figures = [
    ["Backlog", backlog, "pool-backlog"],
    ["Running", pool.tasks.running, "pool-running"],
    ["Waiting", pool.tasks.waiting_approval + pool.tasks.waiting_input, "pool-waiting"],
    ["Workers", pool.workers_polling, "pool-workers"],
    ["Replicas wanted", pool.replicas.desired, "pool-replicas"],
  ];
  card
    .querySelector('[data-testid="pool-now"]')
    .replaceChildren(
      ...figures.map(([term, value, testid]) =>
        h("div", {}, h("dt", {}, term), h("dd", { "data-testid": testid }, String(value))),
      ),
    );
  const series = SERIES.map(([field, name]) => ({
    name,
    // an unknown backlog (null: the server reports no queue stats) is left out, not drawn as 0
    points: samples.filter((s) => s[field] !== null).map((s) => [Date.parse(s.at), s[field]]),
  }));
  const chart = card.querySelector('[data-testid="pool-chart"]');
  lineChart(chart, series, {
    ...range,
    width: Math.max(Math.min(card.clientWidth - 34, 900), 320),
  });
}

async function scale(card, name, replicas) {
  const error = card.querySelector('[data-testid="replicas-error"]');
  const button = card.querySelector('[data-testid="replicas-save"]');
  button.disabled = true;
  error.textContent = "";
  try {
    const answer = await api(`/v1/pools/${encodeURIComponent(name)}/replicas`, {
      method: "PUT",
      body: { replicas },
    });
    card.querySelector('[data-testid="pool-replicas"]').textContent = String(
      answer.replicas.desired,
    );
    announce(`${name} scaled to ${answer.replicas.desired}.`);
  } catch (exc) {
    error.textContent = `Could not scale: ${exc.detail}`;
  } finally {
    button.disabled = false;
  }
}
