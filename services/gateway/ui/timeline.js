// A task's timeline: its events turned into spans (model calls, tool calls, summaries, waits
// for a human, sub-agent runs, waits for capacity) and drawn as SVG bars on one time axis.
// Spans still open (an approval nobody decided yet) grow until the task moves on.

import { duration, money, tokens } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
export const LANES = [
  ["model", "Model"],
  ["tool", "Tools"],
  ["subagent", "Sub-agents"],
  ["memory", "Memory"],
  ["human", "Human"],
  ["queue", "Queue"],
];
const LANE_HEIGHT = 30;
const LABEL_WIDTH = 96;
const AXIS_HEIGHT = 22;
const MIN_BAR = 3;
const WRITING = "model:writing";

/** The spans of a task's events, keyed so a later event can close an earlier span. */
export class TaskSpans {
  constructor(createdAt) {
    this.origin = Date.parse(createdAt);
    this.spans = new Map();
    this.finishedAt = null;
    this.lastAt = this.origin; // the latest event's time: where a step now under way began
  }

  /** The model is writing turn `iteration`: an open bar from the last step's end until its
   * `llm_call` event replaces it. */
  writing(iteration) {
    return this.put(WRITING, "model", this.lastAt, null, {
      label: `Model turn ${(iteration ?? 0) + 1} (writing)`,
    });
  }

  /** Take one event (as GET /v1/tasks/{id}/events lists them); the span it changed, if any. */
  add(event) {
    const at = Date.parse(event.created_at);
    const data = event.data || {};
    this.lastAt = Math.max(this.lastAt, at);
    switch (event.type) {
      case "llm_call":
        this.spans.delete(WRITING);
        return this.put(`model:${event.id}`, "model", at - (data.duration_ms || 0), at, {
          label: `Model turn ${(data.iteration ?? 0) + 1}`,
          tokens: (data.prompt_tokens || 0) + (data.completion_tokens || 0),
          cost: data.cost_usd || 0,
          error: (data.problems || []).length > 0,
          event,
        });
      case "tool_call":
        return this.put(`tool:${event.id}`, "tool", at - (data.duration_ms || 0), at, {
          label: `${data.name || "tool"}${data.attempt > 1 ? ` (attempt ${data.attempt})` : ""}`,
          cost: data.cost_usd || 0,
          error: Boolean(data.is_error),
          event,
        });
      case "delegation":
        return this.put(`subagent:${data.child_task_id || event.id}`, "subagent", at, at, {
          label: data.agent || "sub-agent",
          error: Boolean(data.is_error),
          childTaskId: data.child_task_id,
          event,
        });
      case "memory":
        return this.put(`memory:${event.id}`, "memory", at - (data.duration_ms || 0), at, {
          label: "Summary",
          event,
        });
      case "model_call_held":
        return this.put(`queue:${event.id}`, "queue", at - (data.held_ms || 0), at, {
          label: "Model server busy",
          event,
        });
      case "admission":
        return this.wait("queue:admission", "queue", at, data.state !== "waiting", {
          label: "Tenant at its cap",
          event,
        });
      case "approval":
        return this.approval(event, at, data);
      case "status":
        if (["succeeded", "failed", "cancelled"].includes(data.status)) {
          this.finishedAt = at;
          this.spans.delete(WRITING);
        }
        return null;
      default:
        return null;
    }
  }

  approval(event, at, data) {
    const key = `human:${data.approval_id}`;
    const open = data.state === "requested" || data.state === "escalated";
    const span = this.wait(key, "human", at, !open, {
      label: `Approval: ${data.tool || "tool"}`,
      approvalId: data.approval_id,
      state: data.decision || data.state,
    });
    span.events = [...(span.events || []), event];
    return span;
  }

  /** A wait that opens at one event and closes at a later one. */
  wait(key, lane, at, closes, fields) {
    const span = this.spans.get(key);
    if (span && closes) {
      span.end = at;
      Object.assign(span, fields);
      return span;
    }
    if (span) return Object.assign(span, fields);
    return this.put(key, lane, at, closes ? at : null, fields);
  }

  put(key, lane, start, end, fields) {
    const span = { key, lane, start, end, ...fields };
    this.spans.set(key, span);
    return span;
  }

  list() {
    return [...this.spans.values()].sort((a, b) => a.start - b.start);
  }

  /** Where the axis ends: the task's end, or now while it runs. */
  end(now = Date.now()) {
    const last = Math.max(this.origin, ...this.list().map((s) => s.end ?? now));
    return this.finishedAt ?? Math.max(last, now);
  }

  /** Milliseconds during which at least one approval waited for a person. */
  humanWaitMs(now = Date.now()) {
    const waits = this.list()
      .filter((s) => s.lane === "human")
      .map((s) => [s.start, s.end ?? this.finishedAt ?? now])
      .sort((a, b) => a[0] - b[0]);
    let total = 0;
    let reach = -Infinity;
    for (const [start, end] of waits) {
      const from = Math.max(start, reach);
      if (end > from) total += end - from;
      reach = Math.max(reach, end);
    }
    return total;
  }
}

/** Draw the spans into `host` (an <svg>); onSelect(span) when a bar is chosen. */
export function drawTimeline(host, spans, { width, selectedKey, onSelect, now = Date.now() }) {
  host.replaceChildren();
  const lanes = LANES.filter(
    ([lane]) => lane !== "queue" || spans.list().some((s) => s.lane === lane),
  );
  const height = AXIS_HEIGHT + lanes.length * LANE_HEIGHT + 4;
  host.setAttribute("viewBox", `0 0 ${width} ${height}`);
  host.setAttribute("width", String(width));
  host.setAttribute("height", String(height));
  const start = spans.origin;
  const total = Math.max(spans.end(now) - start, 1);
  const plot = width - LABEL_WIDTH - 8;
  const x = (t) => LABEL_WIDTH + ((t - start) / total) * plot;

  for (const tick of ticks(total)) {
    const tx = x(start + tick);
    host.append(
      svg("line", { x1: tx, x2: tx, y1: AXIS_HEIGHT - 4, y2: height, class: "grid" }),
      svg("text", { x: tx, y: 12, class: "tick", "text-anchor": "middle" }, duration(tick)),
    );
  }
  lanes.forEach(([lane, title], row) => {
    const y = AXIS_HEIGHT + row * LANE_HEIGHT;
    host.append(svg("text", { x: 4, y: y + 19, class: "lane-label" }, title));
    for (const span of spans.list().filter((s) => s.lane === lane)) {
      const end = span.end ?? spans.finishedAt ?? now;
      const left = x(span.start);
      const bar = svg("g", {
        class: `bar bar-${lane}${span.error ? " bar-error" : ""}${span.end === null ? " bar-open" : ""}${span.key === selectedKey ? " bar-selected" : ""}`,
        role: "button",
        tabindex: "0",
        "data-testid": "timeline-bar",
        "data-kind": lane,
        "data-key": span.key,
        "aria-label": barTitle(span, end),
      });
      const barWidth = Math.max(x(end) - left, MIN_BAR);
      bar.append(
        svg("title", {}, barTitle(span, end)),
        svg("rect", { x: left, y: y + 5, width: barWidth, height: LANE_HEIGHT - 10, rx: 3 }),
      );
      const inside = fitted(barFigures(span, end), barWidth - 8);
      if (inside) bar.append(svg("text", { x: left + 4, y: y + 19, class: "bar-label" }, inside));
      bar.addEventListener("click", () => onSelect(span));
      bar.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          onSelect(span);
        }
      });
      host.append(bar);
    }
  });
}

function barTitle(span, end) {
  return [span.label, ...barFigures(span, end)].join(" · ");
}

/** Duration, tokens and cost: what a bar says about its step. */
function barFigures(span, end) {
  const parts = [duration(end - span.start)];
  if (span.tokens) parts.push(`${tokens(span.tokens)} tok`);
  if (span.cost) parts.push(money(span.cost));
  return parts;
}

/** As many of the figures as fit in `room` px (about 6.5 px a character), or "". */
function fitted(parts, room) {
  for (let n = parts.length; n > 0; n -= 1) {
    const text = parts.slice(0, n).join(" · ");
    if (text.length * 6.5 <= room) return text;
  }
  return "";
}

/** About six round steps across the axis. */
function ticks(total) {
  const steps = [
    100, 250, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000,
    1800000, 3600000,
  ];
  const step = steps.find((s) => total / s <= 6) ?? total / 6;
  const out = [];
  for (let t = 0; t <= total; t += step) out.push(t);
  return out;
}

export function svg(tag, attributes = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = String(text);
  return el;
}
