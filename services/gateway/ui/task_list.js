// The tasks view: the tenant's tasks, newest first, filtered by status, agent and submit time,
// a page at a time ("Load more" follows the cursor); the filters and page size are kept in
// the URL's hash, so a filtered list can be linked. And opening one task by its id.

import { api } from "./api.js";
import { $, h } from "./dom.js";
import { STATUSES, duration, money, statusLabel, taskDuration, tokens, when } from "./format.js";

const PAGE = 25;
const FILTERS = ["status", "agent", "since", "limit"];
const REFRESH_MS = 5000;
const SINCE_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

export class TaskList {
  constructor() {
    this.filters = new URLSearchParams();
    this.cursor = null;
    this.pages = 0; // shown; the list refreshes itself only while it shows the first alone
    this.request = 0; // the latest load: an older one's late answer is dropped
    this.timer = null;
    this.agentsLoaded = false;
    $("task-filters").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      const params = new URLSearchParams();
      for (const name of FILTERS) {
        if (form.get(name)) params.set(name, form.get(name));
      }
      location.hash = `#/tasks${params.size ? `?${params}` : ""}`;
    });
    $("task-search").addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("search-id").value.trim();
      if (id) location.hash = `#/tasks/${encodeURIComponent(id)}`;
    });
    $("tasks-more").addEventListener("click", () => this.load({ more: true }));
    const status = $("filter-status");
    status.append(h("option", { value: "" }, "any"));
    for (const value of STATUSES) status.append(h("option", { value }, statusLabel(value)));
  }

  async show(params) {
    $("view-tasks").hidden = false;
    this.filters = params;
    await this.loadAgents();
    for (const name of FILTERS) {
      const select = $(`filter-${name}`);
      const value = params.get(name) || "";
      // a value the URL names that the menu lacks (say, limit=10) is added so it shows
      if (![...select.options].some((option) => option.value === value)) {
        select.append(h("option", { value }, value));
      }
      select.value = value;
    }
    await this.load();
    if ($("view-tasks").hidden) return; // the reader moved on meanwhile
    clearInterval(this.timer);
    // while only the first page is shown, keep it current
    this.timer = setInterval(() => {
      if (this.pages === 1) this.load({ quiet: true });
    }, REFRESH_MS);
  }

  hide() {
    clearInterval(this.timer);
    $("view-tasks").hidden = true;
  }

  async loadAgents() {
    if (this.agentsLoaded) return;
    const select = $("filter-agent");
    select.replaceChildren(h("option", { value: "" }, "any"));
    try {
      const agents = await api("/v1/agents");
      for (const agent of agents.items)
        select.append(h("option", { value: agent.name }, agent.name));
      this.agentsLoaded = true;
    } catch {
      // the list still works unfiltered; the agents are tried again next time
    }
  }

  /** The page size the URL asks for (1..100), else 25. */
  pageSize() {
    const asked = Number.parseInt(this.filters.get("limit") || "", 10);
    return asked >= 1 && asked <= 100 ? asked : PAGE;
  }

  query(cursor) {
    const params = new URLSearchParams({ limit: String(this.pageSize()) });
    for (const name of ["status", "agent"]) {
      if (this.filters.get(name)) params.set(name, this.filters.get(name));
    }
    const since = SINCE_MS[this.filters.get("since")];
    if (since) params.set("created_after", new Date(Date.now() - since).toISOString());
    if (cursor) params.set("cursor", cursor);
    return `/v1/tasks?${params}`;
  }

  async load({ more = false, quiet = false } = {}) {
    const request = ++this.request;
    const error = $("tasks-error");
    let page;
    try {
      page = await api(this.query(more ? this.cursor : null));
    } catch (exc) {
      if (!quiet && request === this.request) {
        error.textContent = `Could not load the tasks: ${exc.detail}`;
      }
      return;
    }
    if (request !== this.request) return;
    error.textContent = "";
    const rows = $("task-rows");
    if (!more) rows.replaceChildren();
    for (const task of page.items) rows.append(taskRow(task));
    this.cursor = page.next_cursor;
    this.pages = more ? this.pages + 1 : 1;
    $("tasks-more").hidden = !this.cursor;
    $("tasks-empty").hidden = rows.children.length > 0;
  }
}

function taskRow(task) {
  const link = h(
    "a",
    { href: `#/tasks/${task.id}`, "data-testid": "task-link" },
    task.id.slice(0, 8),
  );
  return h(
    "tr",
    { "data-testid": "task-row", "data-task-id": task.id, "data-status": task.status },
    h("td", {}, link),
    h("td", {}, task.agent),
    h("td", {}, h("span", { class: `badge status-${task.status}` }, statusLabel(task.status))),
    h("td", { title: task.created_at }, when(task.created_at)),
    h("td", { class: "num" }, duration(taskDuration(task))),
    h("td", { class: "num" }, String(task.usage.llm_calls)),
    h("td", { class: "num" }, tokens(task.usage.prompt_tokens + task.usage.completion_tokens)),
    h("td", { class: "num", "data-testid": "task-cost" }, money(task.usage.cost_usd)),
  );
}
