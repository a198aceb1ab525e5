// What the model said before it asked: its reasoning and the recent conversation, as shown on
// an approval's card.

import { h, prettyJson } from "./dom.js";

function reasoningText(approval) {
  const text = approval.context?.reasoning;
  return typeof text === "string" && text.trim() ? text : "";
}

export function reasoningView(approval) {
  const text = reasoningText(approval);
  return text
    ? h("p", { class: "reasoning", "data-testid": "card-reasoning", text })
    : h("p", { class: "muted", "data-testid": "card-reasoning", text: "The model gave none." });
}

/** The recent messages, folded in a <details>; tool calls show their arguments as JSON. */
export function conversationView(approval) {
  const messages = approval.context?.recent_messages || [];
  const items = messages.map((message) => {
    const calls = (message.tool_calls || []).map((call) => {
      const name = call.function?.name ?? call.name ?? "tool";
      let args = call.function?.arguments ?? call.arguments ?? {};
      if (typeof args === "string") {
        try {
          args = JSON.parse(args);
        } catch {
          /* shown as written */
        }
      }
      return h("pre", { class: "json" }, `calls ${name} `, prettyJson(args));
    });
    const who = message.name ? `${message.role} · ${message.name}` : message.role;
    return h(
      "li",
      { class: `message role-${String(message.role).replace(/[^a-z]/g, "")}` },
      h("span", { class: "role", text: who }),
      message.content ? h("p", { class: "content", text: message.content }) : null,
      calls,
    );
  });
  const count = messages.length === 1 ? "1 message" : `${messages.length} messages`;
  const summary = `Recent conversation (${count})`;
  return h(
    "details",
    { class: "conversation", "data-testid": "card-conversation" },
    h("summary", { text: summary }),
    items.length ? h("ol", {}, items) : h("p", { class: "muted", text: "No messages." }),
  );
}
