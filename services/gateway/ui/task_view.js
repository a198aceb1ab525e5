// One task: its figures, a live timeline built from its event stream, the detail of the
// step a bar stands for, its transcript, and a cancel button for keys that may submit.
// Waiting for a human is counted apart from working time.

import { api, ApiError, currentKey } from "./api.js";
import { $, announce, h } from "./dom.js";
import { EventStream } from "./event_stream.js";
import { FINAL_STATUSES, duration, money, statusLabel, tokens } from "./format.js";
import { clearStep, showStep } from "./step_detail.js";
import { TaskSpans, drawTimeline } from "./timeline.js";

const TICK_MS = 1000;
const TRANSCRIPT_DELAY_MS = 300;

export class TaskView {
  constructor(identity) {
    this.identity = identity;
    this.taskId = null;
    this.shown = 0; // bumped by every show() and hide(): answers for an older one are dropped
    this.task = null;
    this.spans = null;
    this.stream = null;
    this.selected = null;
    this.timer = null;
    this.transcriptTimer = null;
    this.liveText = new Map(); // "iteration:attempt" -> [text chunks by seq]
    $("cancel-task").addEventListener("click", () => this.cancel());
    window.addEventListener("resize", () => this.draw());
  }

  async show(taskId) {
    this.hide();
    const shown = this.shown;
    $("view-task").hidden = false;
    this.taskId = taskId;
    $("task-error").textContent = "";
    $("task-body").hidden = true;
    let task;
    try {
      task = await api(`/v1/tasks/${encodeURIComponent(taskId)}`);
    } catch (exc) {
      $("task-error").textContent =
        exc instanceof ApiError && (exc.status === 404 || exc.status === 422)
          ? `No task ${taskId} in your tenant.`
          : `Could not load the task: ${exc.detail}`;
      return;
    }
    if (this.shown !== shown) return; // the reader moved on meanwhile
    this.spans = new TaskSpans(task.created_at);
    this.selected = null;
    this.liveText.clear();
    clearStep();
    this.render(task);
    $("task-body").hidden = false;
    const current = () => this.shown === shown;
    this.stream = new EventStream(taskId, currentKey(), {
      onEvent: (type, data, id) => current() && this.onEvent(type, data, id),
      onEnd: () => current() && this.onEnd(),
      onTrouble: (message) => {
        if (!current()) return;
        $("stream-state").textContent =
          message ?? (FINAL_STATUSES.has(this.task?.status) ? "" : "Live");
      },
    });
    this.stream.start();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.loadTranscript();
  }

  hide() {
    this.shown += 1;
    this.stream?.stop();
    this.stream = null;
    clearInterval(this.timer);
    clearTimeout(this.transcriptTimer);
    this.taskId = null;
    $("view-task").hidden = true;
  }

  onEvent(type, data, id) {
    if (type === "delta") {
      this.onDelta(data);
      return;
    }
    const span = this.spans.add({
      id,
      type: data.type,
      data: data.data,
      created_at: data.created_at,
    });
    if (type === "llm_call") {
      this.liveText.clear();
      $("live-text").hidden = true;
    }
    if (span?.lane === "subagent" && span.childTaskId) this.placeChild(span);
    if (type === "status") this.reload();
    if (span && this.selected === span.key) showStep(span);
    this.draw();
    this.scheduleTranscript();
  }

  onDelta(data) {
    const turn = `${data.iteration}:${data.attempt}`;
    if (!this.liveText.has(turn)) {
      this.liveText.clear();
      this.spans.writing(data.iteration);
      this.draw();
    }
    const chunks = this.liveText.get(turn) || [];
    chunks[data.seq] = data.text;
    this.liveText.set(turn, chunks);
    const live = $("live-text");
    live.hidden = false;
    live.textContent = `The model is writing: ${chunks.join("")}`;
  }

  async onEnd() {
    $("stream-state").textContent = "";
    $("live-text").hidden = true;
    await this.reload();
    this.draw();
    this.loadTranscript();
  }

  /** A sub-agent's bar runs from its task's submit to the answer coming back. */
  async placeChild(span) {
    const shown = this.shown;
    try {
      const child = await api(`/v1/tasks/${encodeURIComponent(span.childTaskId)}`);
      if (this.shown !== shown) return;
      span.start = Date.parse(child.created_at);
      this.draw();
    } catch {
      // the bar stays a mark at the answer's time
    }
  }

  async reload() {
    const shown = this.shown;
    try {
      const task = await api(`/v1/tasks/${encodeURIComponent(this.taskId)}`);
      if (this.shown === shown) this.render(task);
    } catch {
      // the figures stay as they were; the stream goes on
    }
  }

  tick() {
    if (!this.task) return;
    if (!FINAL_STATUSES.has(this.task.status)) {
      this.figures();
      this.draw();
    }
  }

  render(task) {
    this.task = task;
    const final = FINAL_STATUSES.has(task.status);
    $("task-title").textContent =
      `${task.agent}${task.agent_version ? ` v${task.agent_version}` : ""} · ${task.id}`;
    const badge = $("task-status");
    badge.textContent = statusLabel(task.status);
    badge.className = `badge status-${task.status}`;
    badge.dataset.status = task.status;
    $("task-input").textContent = task.input;
    const temporal = $("temporal-link");
    temporal.hidden = !task.temporal_ui_url;
    if (task.temporal_ui_url) temporal.href = task.temporal_ui_url;
    $("approvals-link").hidden = task.status !== "waiting_approval";
    $("cancel-task").hidden = final || !this.identity.can.submit;
    this.figures();
    this.outcome(task);
  }

  figures() {
    const task = this.task;
    const now = Date.now();
    const total =
      (task.finished_at ? Date.parse(task.finished_at) : now) - Date.parse(task.created_at);
    const human = this.spans.humanWaitMs(now);
    const usage = task.usage;
    const rows = [
      ["Total", duration(total), "fig-total"],
      ["Working", duration(Math.max(total - human, 0)), "fig-working"],
      ["Waiting for a human", duration(human), "fig-human"],
      ["Model calls", String(usage.llm_calls), "fig-model-calls"],
      ["Tool calls", String(usage.tool_calls), "fig-tool-calls"],
      ["Tokens", tokens(usage.prompt_tokens + usage.completion_tokens), "fig-tokens"],
      ["Cost", money(usage.cost_usd), "fig-cost"],
    ];
    $("task-figures").replaceChildren(
      ...rows.map(([term, value, testid]) =>
        h("div", {}, h("dt", {}, term), h("dd", { "data-testid": testid }, value)),
      ),
    );
  }

  outcome(task) {
    const box = $("task-outcome");
    box.hidden = !FINAL_STATUSES.has(task.status);
    if (box.hidden) return;
    if (task.status === "succeeded") {
      box.replaceChildren(
        h("h3", {}, "Answer"),
        h("pre", { "data-testid": "task-result" }, task.result ?? ""),
      );
    } else {
      const why = task.error?.message || task.cancel_reason || statusLabel(task.status);
      box.replaceChildren(
        h("h3", {}, statusLabel(task.status)),
        h("p", { class: "error", "data-testid": "task-result" }, why),
      );
    }
  }

  draw() {
    if (!this.spans || $("task-body").hidden) return;
    const width = Math.max($("timeline-box").clientWidth - 2, 480);
    drawTimeline($("timeline"), this.spans, {
      width,
      selectedKey: this.selected,
      onSelect: (span) => {
        this.selected = span.key;
        this.draw();
        showStep(span);
      },
    });
  }

  scheduleTranscript() {
    clearTimeout(this.transcriptTimer);
    this.transcriptTimer = setTimeout(() => this.loadTranscript(), TRANSCRIPT_DELAY_MS);
  }

  async loadTranscript() {
    const shown = this.shown;
    let messages;
    try {
      messages = await api(`/v1/tasks/${encodeURIComponent(this.taskId)}/messages`);
    } catch {
      return;
    }
    if (this.shown !== shown) return;
    $("transcript").replaceChildren(...messages.items.map(message));
  }

  async cancel() {
    const shown = this.shown;
    const button = $("cancel-task");
    button.disabled = true;
    try {
      const task = await api(`/v1/tasks/${encodeURIComponent(this.taskId)}/cancel`, {
        method: "POST",
        body: { reason: `cancelled from the console by ${this.identity.name}` },
      });
      if (this.shown !== shown) return;
      this.render(task);
      announce(`Task ${statusLabel(task.status)}.`);
    } catch (exc) {
      $("task-error").textContent = `Could not cancel: ${exc.detail}`;
    } finally {
      button.disabled = false;
    }
  }
}

function message(item) {
  const calls = (item.tool_calls || []).map((call) => {
    const fn = call.function || call;
    return `${fn.name}(${typeof fn.arguments === "string" ? fn.arguments : JSON.stringify(fn.arguments)})`;
  });
  const who =
    item.role === "tool"
      ? `tool ${item.name || ""}`
      : item.kind === "summary"
        ? "summary"
        : item.role;
  return h(
    "li",
    { class: `msg msg-${item.role}`, "data-testid": "transcript-message", "data-role": item.role },
    h("span", { class: "msg-role" }, who),
    item.content ? h("p", { class: "msg-text" }, item.content) : null,
    calls.length ? h("p", { class: "msg-calls" }, calls.join("\n")) : null,
  );
}
