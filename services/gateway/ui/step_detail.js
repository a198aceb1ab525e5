// What one timeline bar holds: a model call's text, tool calls and tokens; a tool call's
// arguments and result; an approval's request and decision (GET /v1/approvals/{id}); a
// sub-agent's task; a summary's sizes. Everything is shown as text, never as HTML.

import { api, approvalUrl } from "./api.js";
import { $, h, prettyJson } from "./dom.js";
import { duration, money, tokens, when } from "./format.js";

let latest = 0; // the showStep call the panel is for: an older one's late answer is dropped

/** Fill the detail panel for `span` (see timeline.js), fetching what the events lack. */
export async function showStep(span, now = Date.now()) {
  const request = ++latest;
  const body = $("bar-detail-body");
  $("bar-detail-empty").hidden = true;
  const end = span.end ?? now;
  const rows = [
    ["Started", when(new Date(span.start).toISOString())],
    [
      "Took",
      span.end === null ? `${duration(end - span.start)} so far` : duration(end - span.start),
    ],
  ];
  body.replaceChildren(h("h4", { "data-testid": "detail-title" }, span.label), facts(rows));
  const data = span.event?.data || {};
  if (!span.event && span.lane !== "human") {
    body.append(h("p", { class: "muted" }, "Still under way: its figures come when it ends."));
  } else if (span.lane === "model") body.append(...modelCall(data));
  else if (span.lane === "tool") body.append(...toolCall(data));
  else if (span.lane === "subagent") body.append(...subAgent(span, data));
  else if (span.lane === "memory") {
    body.append(
      facts([
        ["Tokens before", tokens(data.tokens_before)],
        ["Tokens after", tokens(data.tokens_after)],
      ]),
    );
  } else if (span.lane === "human") {
    const shown = await approval(span);
    if (request === latest) body.append(...shown);
  } else body.append(block("Details", prettyJson(data)));
}

export function clearStep() {
  latest += 1;
  $("bar-detail-empty").hidden = false;
  $("bar-detail-body").replaceChildren();
}

function modelCall(data) {
  const out = [
    facts([
      [
        "Model",
        data.served_by && data.served_by !== data.model
          ? `${data.model} (served by ${data.served_by})`
          : data.model,
      ],
      [
        "Prompt tokens",
        `${tokens(data.prompt_tokens)}${data.cached_tokens ? ` (${tokens(data.cached_tokens)} cached)` : ""}`,
      ],
      ["Completion tokens", tokens(data.completion_tokens)],
      ["Cost", money(data.cost_usd)],
      ["Finish", data.finish_reason || "–"],
    ]),
  ];
  if (data.final_text) out.push(block("The model wrote", data.final_text, "detail-output"));
  if ((data.tool_calls || []).length)
    out.push(block("It called", data.tool_calls.join(", "), "detail-calls"));
  if ((data.problems || []).length)
    out.push(block("Problems with the reply", prettyJson(data.problems)));
  return out;
}

function toolCall(data) {
  const rows = [
    ["Tool", data.name],
    ["Attempt", String(data.attempt ?? 1)],
  ];
  if (data.mcp_server) rows.push(["MCP server", data.mcp_server]);
  if (data.cost_usd) rows.push(["Cost", money(data.cost_usd)]);
  rows.push(["Outcome", data.is_error ? "error" : "ok"]);
  return [
    facts(rows),
    block("Arguments", prettyJson(data.arguments ?? {}), "detail-arguments"),
    block("Result", data.result ?? "", "detail-output"),
  ];
}

function subAgent(span, data) {
  const out = [
    facts([
      ["Agent", data.agent],
      ["Status", data.status || "–"],
    ]),
  ];
  if (span.childTaskId) {
    out.push(
      h(
        "p",
        {},
        h(
          "a",
          { href: `#/tasks/${span.childTaskId}`, "data-testid": "detail-child" },
          "Open the sub-agent's task",
        ),
      ),
    );
  }
  out.push(block("It answered", data.result ?? "", "detail-output"));
  return out;
}

async function approval(span) {
  let record;
  try {
    record = await api(approvalUrl(span.approvalId));
  } catch (exc) {
    return [h("p", { class: "error" }, `Could not load the approval: ${exc.detail}`)];
  }
  const rows = [
    ["Tool", record.tool],
    ["Status", record.status],
    ["Why it waited", record.reason],
  ];
  const decision = record.decision;
  const out = [
    facts(rows),
    block("Arguments asked for", prettyJson(record.arguments), "detail-arguments"),
  ];
  if (decision) {
    out.push(
      facts(
        [
          ["Decision", decision.decision],
          ["By", decision.decided_by || decision.by || "–"],
          ["Decided", decision.decided_at ? when(decision.decided_at) : "–"],
          ["Comment", decision.comment || "–"],
        ],
        "detail-decision",
      ),
    );
    if (decision.arguments) out.push(block("Arguments as decided", prettyJson(decision.arguments)));
  } else {
    out.push(h("p", {}, h("a", { href: "/ui/approvals" }, "Decide it in Approvals")));
  }
  return out;
}

function facts(rows, testid) {
  const list = h("dl", { class: "facts", "data-testid": testid });
  for (const [term, value] of rows) list.append(h("dt", {}, term), h("dd", {}, value ?? "–"));
  return list;
}

function block(title, text, testid) {
  return h("div", {}, h("h4", {}, title), h("pre", { "data-testid": testid }, text));
}
