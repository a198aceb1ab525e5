// Usage: cost and tokens per day, per agent and per model (GET /v1/usage), and what a
// completed task costs per agent. A tenant's key sees its tenant; a platform operator's, all.

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { money, tokens } from "./format.js";
import { barChart } from "./charts.js";

const DAY_MS = 86400e3;

export class UsageView {
  constructor() {
    this.request = 0; // the latest load: an older one's late answer is dropped
    $("usage-days").addEventListener("change", () => this.load());
  }

  show() {
    $("view-usage").hidden = false;
    this.load();
  }

  hide() {
    $("view-usage").hidden = true;
  }

  async load() {
    const request = ++this.request;
    const days = Number($("usage-days").value);
    const end = new Date(Date.now() + 60e3); // a minute ahead: tasks submitted just now count
    const start = new Date(end.getTime() - days * DAY_MS);
    const range = `from=${encodeURIComponent(start.toISOString())}&to=${encodeURIComponent(end.toISOString())}`;
    let byDay;
    let byAgent;
    let byModel;
    try {
      [byDay, byAgent, byModel] = await Promise.all(
        ["day", "agent", "model"].map((group) => api(`/v1/usage?group_by=${group}&${range}`)),
      );
    } catch (exc) {
      if (request === this.request)
        $("usage-error").textContent = `Could not load usage: ${exc.detail}`;
      return;
    }
    if (request !== this.request) return;
    $("usage-error").textContent = "";
    $("usage-total").textContent =
      `${money(byDay.total_cost_usd)} in all over the last ${days === 1 ? "day" : `${days} days`}.`;
    const width = chartWidth();
    const groups = {
      day: fillDays(byDay.items, start, end),
      agent: byAgent.items,
      model: byModel.items,
    };
    for (const [group, items] of Object.entries(groups)) {
      // a day's label is its month and day: 12-05
      const label = (item) => (group === "day" ? item.key.slice(5) : item.key);
      barChart(
        $(`chart-cost-${group}`),
        items.map((item) => ({ label: label(item), value: item.cost_usd })),
        { format: money, width, testid: `bar-cost-${group}` },
      );
      barChart(
        $(`chart-tokens-${group}`),
        items.map((item) => ({
          label: label(item),
          value: item.prompt_tokens + item.completion_tokens,
        })),
        { format: tokens, width, testid: `bar-tokens-${group}` },
      );
    }
    $("usage-agents")
      .querySelector("tbody")
      .replaceChildren(...byAgent.items.map(agentRow));
  }
}

/** One bar per day of the range, empty days included, so gaps show. */
function fillDays(items, start, end) {
  const byKey = new Map(items.map((item) => [item.key, item]));
  const out = [];
  for (let t = Date.parse(start.toISOString().slice(0, 10)); t <= end.getTime(); t += DAY_MS) {
    const key = new Date(t).toISOString().slice(0, 10);
    out.push(byKey.get(key) ?? { key, cost_usd: 0, prompt_tokens: 0, completion_tokens: 0 });
  }
  return out;
}

function agentRow(item) {
  return h(
    "tr",
    { "data-testid": "usage-agent-row", "data-agent": item.key },
    h("td", {}, item.key),
    h("td", { class: "num" }, String(item.tasks)),
    h("td", { class: "num" }, String(item.tasks_succeeded)),
    h("td", { class: "num" }, tokens(item.prompt_tokens + item.completion_tokens)),
    h("td", { class: "num" }, money(item.cost_usd)),
    h(
      "td",
      {
        class: "num",
        "data-testid": "cost-per-task",
        "data-value": item.cost_per_succeeded_task_usd,
      },
      item.cost_per_succeeded_task_usd === null ? "–" : money(item.cost_per_succeeded_task_usd),
    ),
  );
}

function chartWidth() {
  const panel = $("chart-cost-day").parentElement;
  return Math.max(Math.min(panel.clientWidth - 24, 900), 320);
}
