// The approver's inbox: sign in with an API key, list open approvals, decide them.
// Plain ES module, no framework. Every piece of data reaches the page as text
// (textContent, setAttribute, append of strings), never as HTML.

const KEY_STORAGE = "agentry.approvals.apiKey";
const REFRESH_MS = 5000;
const PAGE_LIMIT = 50;
const MAX_PAGES = 4;
const MAX_DECIDED_SHOWN = 25;

const OUTCOME_LABELS = {
  pending: "Pending",
  escalated: "Escalated",
  approved: "Approved",
  rejected: "Rejected",
  edited: "Edited",
  timed_out: "Timed out",
  cancelled: "Cancelled",
};
const OPEN_STATUSES = new Set(["pending", "escalated"]);

// --- small helpers -------------------------------------------------------------------

/** Build an element. Strings among the children become text nodes. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

function prettyJson(value) {
  try {
    return JSON.stringify(value, null, 2) ?? "null";
  } catch {
    return String(value);
  }
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absoluteFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});
const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

function relativeTime(date, now = Date.now()) {
  const seconds = (date.getTime() - now) / 1000;
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(Math.round(seconds), "second");
}

/** A <time> showing "in 3 hours (Nov 22, 2026, 3:08 PM UTC)"; refreshed by updateTime. */
function timeElement(iso, testid) {
  const el = h("time", { datetime: iso, "data-testid": testid });
  updateTime(el);
  return el;
}

function updateTime(el) {
  const date = new Date(el.getAttribute("datetime"));
  if (Number.isNaN(date.getTime())) {
    el.textContent = el.getAttribute("datetime") || "unknown";
    return;
  }
  el.textContent = `${relativeTime(date)} (${absoluteFormat.format(date)})`;
  el.title = date.toISOString();
}

// --- the API -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem.detail || problem.title || `the gateway answered ${status}`;
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }
}

async function api(path, { method = "GET", body, key = state.key } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, { detail: "the gateway did not answer; check the connection and retry" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : { title: response.statusText };
    throw new ApiError(response.status, problem);
  }
  return data;
}

async function listOpenApprovals() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = new URLSearchParams({ status: "open", limit: String(PAGE_LIMIT) });
    if (cursor) query.set("cursor", cursor);
    const body = await api(`/v1/approvals?${query}`);
    items.push(...(body.items || []));
    cursor = body.next_cursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}

// --- state and the two screens -------------------------------------------------------

const state = {
  key: null,
  cards: new Map(), // approval id -> ApprovalCard, open ones
  closedIds: new Set(), // decided or gone: a list fetched before that must not bring them back
  timer: null,
  refreshing: false,
  listComplete: true, // false when the open list had more pages than fetched
  lastCountText: null,
};

function announce(text) {
  const el = $("announcer");
  el.textContent = "";
  // a fresh text node after a tick, so repeated messages are announced again
  setTimeout(() => {
    el.textContent = text;
  }, 50);
}

function showSignIn(message = "") {
  stopRefreshing();
  state.key = null;
  for (const card of state.cards.values()) card.el.remove();
  state.cards.clear();
  state.closedIds.clear();
  $("decided-list").replaceChildren();
  $("decided").hidden = true;
  $("inbox").hidden = true;
  $("session-bar").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  state.lastCountText = null;
  $("signin-key").focus();
}

function showInbox() {
  $("signin").hidden = true;
  $("signin-error").textContent = "";
  $("inbox").hidden = false;
  $("session-bar").hidden = false;
  refresh();
  state.timer = setInterval(() => {
    if (!document.hidden) refresh();
  }, REFRESH_MS);
}

function stopRefreshing() {
  if (state.timer !== null) clearInterval(state.timer);
  state.timer = null;
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY_STORAGE);
  showSignIn(message);
}

async function signIn(event) {
  event.preventDefault();
  const input = $("signin-key");
  const button = $("signin-submit");
  const error = $("signin-error");
  const key = input.value.trim();
  input.removeAttribute("aria-invalid");
  if (!key) {
    error.textContent = "Enter an API key.";
    input.setAttribute("aria-invalid", "true");
    return;
  }
  if (!/^[\x21-\x7e]+$/.test(key)) {
    error.textContent = "An API key has no spaces or special characters; paste it again.";
    input.setAttribute("aria-invalid", "true");
    return;
  }
  button.disabled = true;
  error.textContent = "";
  try {
    await api("/v1/agents", { key });
  } catch (exc) {
    error.textContent = `Sign-in failed: ${exc.detail}`;
    input.setAttribute("aria-invalid", "true");
    input.select();
    return;
  } finally {
    button.disabled = false;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  state.key = key;
  input.value = "";
  showInbox();
  document.getElementById("inbox-heading").focus();
}

// --- the inbox -----------------------------------------------------------------------

async function refresh() {
  if (state.refreshing || !state.key) return;
  state.refreshing = true;
  const key = state.key;
  const errorEl = $("inbox-error");
  try {
    const { items, complete } = await listOpenApprovals();
    const detailed = await withDetails(items);
    if (state.key !== key) return; // signed out (or in again) meanwhile
    errorEl.textContent = "";
    reconcile(detailed, complete);
    $("last-refreshed").textContent = `Updated ${clockFormat.format(new Date())}`;
  } catch (exc) {
    if (exc.status === 401) {
      signOut(`Signed out: ${exc.detail}`);
      return;
    }
    errorEl.textContent = `Could not load approvals: ${exc.detail}`;
  } finally {
    state.refreshing = false;
  }
}

/** The inbox may list approvals without their context and tool schema: new cards need both. */
async function withDetails(items) {
  const known = (a) => state.cards.has(a.id) || state.closedIds.has(a.id);
  const needed = items.filter((a) => !known(a) && !("context" in a && "tool_schema" in a));
  const details = await Promise.all(
    needed.map((a) => api(`/v1/approvals/${encodeURIComponent(a.id)}`).catch(() => null)),
  );
  const byId = new Map(details.filter(Boolean).map((detail) => [detail.id, detail]));
  return items.map((a) => byId.get(a.id) ?? a);
}

function reconcile(items, complete) {
  const list = $("open-list");
  const seen = new Set();
  const open = items.filter((a) => !state.closedIds.has(a.id) && !isClosed(a));
  open.forEach((approval, index) => {
    seen.add(approval.id);
    let card = state.cards.get(approval.id);
    if (card) card.update(approval);
    else {
      card = new ApprovalCard(approval);
      state.cards.set(approval.id, card);
    }
    // move only what is out of place, so a card being edited keeps its focus
    if (list.children[index] !== card.el) list.insertBefore(card.el, list.children[index] || null);
  });
  if (complete) {
    for (const [id, card] of state.cards) {
      if (!seen.has(id) && !card.busy) card.closedElsewhere();
    }
  }
  state.listComplete = complete;
  showCount();
}

/** "3 approvals waiting", changed only when it changes: the line is a live region. */
function showCount() {
  const count = state.cards.size;
  $("inbox-empty").hidden = count > 0;
  let text = count === 1 ? "1 approval waiting" : `${count} approvals waiting`;
  if (!state.listComplete) text += ` (showing the first ${count})`;
  if (text !== state.lastCountText) {
    $("inbox-count").textContent = text;
    state.lastCountText = text;
  }
}

function moveToDecided(card) {
  state.cards.delete(card.approval.id);
  state.closedIds.add(card.approval.id);
  const list = $("decided-list");
  list.prepend(card.el);
  while (list.children.length > MAX_DECIDED_SHOWN) list.lastElementChild.remove();
  $("decided").hidden = false;
  showCount();
}

// --- one approval --------------------------------------------------------------------

let cardCounter = 0;

class ApprovalCard {
  constructor(approval) {
    this.approval = approval;
    this.busy = false;
    this.uid = `card-${(cardCounter += 1)}`;
    this.el = this.render();
  }

  render() {
    const a = this.approval;
    const titleId = `${this.uid}-title`;
    this.statusBadge = h("span", { class: "badge", "data-testid": "card-status" });
    this.deadline = h("dd", { "data-testid": "card-deadline" });
    this.escalation = h("dd", { "data-testid": "card-escalation" });
    this.outcome = h("div", { class: "outcome", "data-testid": "card-outcome", hidden: true });
    this.error = h("p", { class: "error", role: "alert", "data-testid": "card-error" });
    this.actions = this.renderActions();
    const el = h(
      "article",
      {
        class: "card",
        "aria-labelledby": titleId,
        "data-testid": "approval-card",
        "data-approval-id": a.id,
        "data-task-id": a.task_id,
      },
      h(
        "header",
        { class: "card-head" },
        h(
          "h3",
          { id: titleId, tabindex: "-1" },
          "Run ",
          h("code", { "data-testid": "card-tool", text: a.tool }),
          "?",
        ),
        this.statusBadge,
        h(
          "p",
          { class: "muted meta" },
          "Agent ",
          h("strong", { text: a.agent }),
          " · task ",
          h("code", { "data-testid": "card-task", text: a.task_id }),
          " · asked ",
          timeElement(a.created_at, "card-created"),
        ),
      ),
      h(
        "dl",
        { class: "facts" },
        h("dt", { text: "Why it needs approval" }),
        h("dd", { "data-testid": "card-reason", text: a.reason || "(no reason given)" }),
        h("dt", { text: "Deadline" }),
        this.deadline,
        h("dt", { text: "Escalation" }),
        this.escalation,
      ),
      h("h4", { text: "Proposed arguments" }),
      h("pre", { class: "json", "data-testid": "card-arguments", text: prettyJson(a.arguments) }),
      h("h4", { text: "The model's reasoning" }),
      this.renderReasoning(),
      this.renderConversation(),
      this.actions,
      this.error,
      this.outcome,
    );
    this.el = el;
    this.showState(a);
    return el;
  }

  renderReasoning() {
    const text = reasoningText(this.approval);
    return text
      ? h("p", { class: "reasoning", "data-testid": "card-reasoning", text })
      : h("p", { class: "muted", "data-testid": "card-reasoning", text: "The model gave none." });
  }

  renderConversation() {
    const messages = this.approval.context?.recent_messages || [];
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

  renderActions() {
    const rejectId = `${this.uid}-reject`;
    const editId = `${this.uid}-edit`;
    this.approveButton = h("button", {
      type: "button",
      class: "primary",
      "data-testid": "approve",
      text: "Approve",
      onclick: () => this.decide({ decision: "approve" }),
    });
    this.rejectButton = h("button", {
      type: "button",
      class: "danger",
      "aria-expanded": "false",
      "aria-controls": rejectId,
      "data-testid": "reject-open",
      text: "Reject…",
      onclick: () => this.toggle("reject"),
    });
    this.editButton = h("button", {
      type: "button",
      "aria-expanded": "false",
      "aria-controls": editId,
      "data-testid": "edit-open",
      text: "Edit arguments…",
      onclick: () => this.toggle("edit"),
    });
    this.rejectForm = this.renderRejectForm(rejectId);
    this.editForm = new EditForm(this, editId);
    return h(
      "div",
      { class: "decision" },
      h(
        "div",
        { class: "actions", role: "group", "aria-label": "Decision" },
        this.approveButton,
        this.rejectButton,
        this.editButton,
      ),
      this.rejectForm,
      this.editForm.el,
    );
  }

  renderRejectForm(id) {
    const commentId = `${id}-comment`;
    this.rejectComment = h("textarea", {
      id: commentId,
      rows: "3",
      "aria-describedby": `${commentId}-hint`,
      "data-testid": "reject-comment",
    });
    return h(
      "form",
      {
        id,
        class: "subform",
        hidden: true,
        "data-testid": "reject-form",
        onsubmit: (event) => {
          event.preventDefault();
          const comment = this.rejectComment.value.trim();
          this.decide({ decision: "reject", comment: comment || undefined });
        },
      },
      h("label", { for: commentId, text: "Comment (why not)" }),
      h("p", {
        class: "hint",
        id: `${commentId}-hint`,
        text: "The model is shown this comment with the rejection.",
      }),
      this.rejectComment,
      h(
        "div",
        { class: "actions" },
        h("button", {
          type: "submit",
          class: "danger",
          "data-testid": "reject-submit",
          text: "Reject",
        }),
        h("button", {
          type: "button",
          "data-testid": "reject-cancel",
          text: "Cancel",
          onclick: () => this.toggle(null),
        }),
      ),
    );
  }

  /** Open one of the two sub-forms ("reject", "edit") or close both (null). */
  toggle(which) {
    const rejectOpen = which === "reject" && this.rejectForm.hidden;
    const editOpen = which === "edit" && this.editForm.el.hidden;
    this.rejectForm.hidden = !rejectOpen;
    this.editForm.el.hidden = !editOpen;
    this.rejectButton.setAttribute("aria-expanded", String(rejectOpen));
    this.editButton.setAttribute("aria-expanded", String(editOpen));
    if (rejectOpen) this.rejectComment.focus();
    else if (editOpen) this.editForm.focus();
  }

  update(approval) {
    this.approval = { ...this.approval, ...approval };
    this.showState(approval);
  }

  showState(a) {
    const label = OUTCOME_LABELS[a.status] || a.status;
    this.statusBadge.textContent = label;
    this.statusBadge.className = `badge status-${String(a.status).replace(/[^a-z_]/g, "")}`;
    this.el.setAttribute("data-status", a.status);
    const escalates = a.on_timeout === "escalate" && a.status !== "escalated";
    const then = escalates ? "then it is escalated" : "then it is rejected automatically";
    const overdue = new Date(a.deadline_at).getTime() < Date.now();
    this.deadline.replaceChildren(
      timeElement(a.deadline_at, "card-deadline-time"),
      OPEN_STATUSES.has(a.status) ? ` · ${overdue ? "overdue; " : ""}${then}` : "",
    );
    this.deadline.classList.toggle("overdue", overdue && OPEN_STATUSES.has(a.status));
    if (a.escalated_at) {
      this.escalation.replaceChildren(
        h("strong", { text: "Escalated " }),
        timeElement(a.escalated_at, "card-escalated-time"),
      );
    } else {
      this.escalation.textContent =
        a.on_timeout === "escalate" ? "Not yet; escalates at the deadline" : "Not escalated";
    }
  }

  tick() {
    for (const el of this.el.querySelectorAll("time[datetime]")) updateTime(el);
  }

  setBusy(busy) {
    this.busy = busy;
    this.el.setAttribute("aria-busy", String(busy));
    for (const button of this.el.querySelectorAll("button")) button.disabled = busy;
  }

  async decide(body) {
    if (this.busy) return;
    // disabling the buttons drops the focus: remember where it was, to put it back
    const focused = this.el.contains(document.activeElement) ? document.activeElement : null;
    this.error.textContent = "";
    this.editForm.clearErrors();
    this.setBusy(true);
    let decided = null;
    let failure = null;
    try {
      decided = await api(`/v1/approvals/${encodeURIComponent(this.approval.id)}/decision`, {
        method: "POST",
        body,
      });
    } catch (exc) {
      failure = exc;
    }
    if (failure?.status === 401) {
      signOut(`Signed out: ${failure.detail}`);
      return;
    }
    if (failure) {
      this.error.textContent = `${describeFailure(failure)}: ${failure.detail}`;
      const invalid = failure.status === 422 ? this.editForm.showServerErrors(failure) : null;
      if (failure.status === 409) await this.reload(focused !== null);
      this.setBusy(false);
      if (this.el.isConnected && state.cards.get(this.approval.id) === this) {
        (invalid?.control ?? focused)?.focus();
      }
      return;
    }
    this.setBusy(false);
    if (decided && isClosed(decided)) this.finish(decided, true, focused !== null);
    else await this.reload(focused !== null);
  }

  /** Re-read this approval (after a 409); if it is closed, show how it ended. */
  async reload(hadFocus = false) {
    try {
      const current = await api(`/v1/approvals/${encodeURIComponent(this.approval.id)}`);
      if (isClosed(current)) this.finish(current, false, hadFocus);
      else this.update(current);
    } catch {
      /* the error shown already says enough */
    }
  }

  /** It left the open list without a decision from this page. */
  async closedElsewhere() {
    this.busy = true;
    try {
      const current = await api(`/v1/approvals/${encodeURIComponent(this.approval.id)}`);
      if (isClosed(current)) this.finish(current, false, this.el.contains(document.activeElement));
      else this.update(current);
    } catch (exc) {
      if (exc.status === 404) {
        state.cards.delete(this.approval.id);
        state.closedIds.add(this.approval.id);
        this.el.remove();
      }
    } finally {
      this.busy = false;
    }
  }

  /** Show how it ended and move it to the decided list; the focus moves on to the next card. */
  finish(approval, byThisPage, hadFocus) {
    const next = this.el.nextElementSibling;
    this.approval = approval;
    this.showState(approval);
    this.actions.remove();
    this.outcome.replaceChildren(...describeOutcome(approval, byThisPage));
    this.outcome.hidden = false;
    this.el.classList.add("closed");
    moveToDecided(this);
    const sentence = this.outcome.firstChild?.textContent || "";
    announce(`${this.approval.tool}: ${sentence}`);
    if (hadFocus) {
      const nextApprove = next?.querySelector('[data-testid="approve"]');
      (nextApprove || document.getElementById("inbox-heading")).focus();
    }
  }
}

/** Decided (a decision is recorded) or ended some other way. */
function isClosed(approval) {
  return Boolean(approval.decision) || !OPEN_STATUSES.has(approval.status);
}

const DECISION_OUTCOMES = { approve: "approved", reject: "rejected", edit: "edited" };

function reasoningText(approval) {
  const text = approval.context?.reasoning;
  return typeof text === "string" && text.trim() ? text : "";
}

function describeFailure(exc) {
  switch (exc.status) {
    case 409:
      return "Already closed";
    case 422:
      return "Not accepted";
    case 403:
      return "Not allowed";
    case 404:
      return "Not found";
    case 0:
      return "No answer";
    default:
      return "Failed";
  }
}

function describeOutcome(approval, byThisPage) {
  const decision = approval.decision || {};
  const by = byThisPage ? "by you" : decision.decided_by ? `by ${decision.decided_by}` : "";
  const when = decision.decided_at ? timeElement(decision.decided_at, "card-decided-time") : null;
  const parts = [];
  const outcome = OPEN_STATUSES.has(approval.status)
    ? DECISION_OUTCOMES[decision.decision] || approval.status
    : approval.status;
  const line = (text) =>
    h("p", { class: "outcome-line", "data-testid": "card-outcome-text" }, text);
  switch (outcome) {
    case "approved":
      parts.push(line(`Approved ${by}: the call runs as proposed.`));
      break;
    case "rejected":
      parts.push(line(`Rejected ${by}: the model is told the call was refused.`));
      break;
    case "edited":
      parts.push(line(`Edited ${by}: the call runs with these arguments.`));
      parts.push(
        h("pre", {
          class: "json",
          "data-testid": "card-decided-arguments",
          text: prettyJson(decision.arguments),
        }),
      );
      break;
    case "timed_out":
      parts.push(line("Timed out: nobody decided before the deadline, so it was rejected."));
      break;
    case "cancelled":
      parts.push(line("Cancelled: the task ended before a decision."));
      break;
    default:
      parts.push(line(`Now ${OUTCOME_LABELS[outcome] || outcome}.`));
  }
  if (decision.comment) {
    const quoted = h("q", { "data-testid": "card-comment" }, decision.comment);
    parts.push(h("p", {}, "Comment: ", quoted));
  }
  if (when) parts.push(h("p", { class: "muted" }, "Decided ", when));
  return parts;
}

// --- the edit form -------------------------------------------------------------------

/** The JSON-schema type to build an input for: one of the simple types, or "json". */
function inputKind(property) {
  if (!property || typeof property !== "object") return "json";
  let type = property.type;
  if (Array.isArray(type)) {
    const concrete = type.filter((t) => t !== "null");
    type = concrete.length === 1 ? concrete[0] : undefined;
  }
  if (Array.isArray(property.enum) && property.enum.length && type !== "boolean") return "enum";
  if (["string", "integer", "number", "boolean"].includes(type)) return type;
  return "json";
}

class EditForm {
  constructor(card, id) {
    this.card = card;
    this.id = id;
    this.fields = [];
    this.comment = h("textarea", { id: `${id}-comment`, rows: "2", "data-testid": "edit-comment" });
    const schema = card.approval.tool_schema;
    const properties =
      schema && typeof schema.properties === "object" && schema.properties !== null
        ? schema.properties
        : null;
    const args = card.approval.arguments || {};
    const fieldEls = [];
    if (properties) {
      const required = new Set(Array.isArray(schema.required) ? schema.required : []);
      const names = Object.keys(properties);
      for (const name of Object.keys(args)) if (!names.includes(name)) names.push(name);
      names.forEach((name, index) => {
        const field = new ArgumentField({
          id: `${id}-arg-${index}`,
          name,
          property: properties[name],
          inSchema: name in properties,
          required: required.has(name),
          present: Object.hasOwn(args, name),
          value: args[name],
        });
        this.fields.push(field);
        fieldEls.push(field.el);
      });
    } else {
      const field = new ArgumentField({
        id: `${id}-args`,
        name: null,
        property: null,
        inSchema: false,
        required: true,
        present: true,
        value: args,
      });
      this.fields.push(field);
      fieldEls.push(field.el);
    }
    this.el = h(
      "form",
      {
        id,
        class: "subform",
        hidden: true,
        novalidate: true,
        "data-testid": "edit-form",
        onsubmit: (event) => {
          event.preventDefault();
          this.submit();
        },
      },
      h(
        "fieldset",
        {},
        h("legend", { text: `Arguments for ${card.approval.tool}` }),
        properties
          ? null
          : h("p", { class: "hint", text: "The tool has no schema: edit the arguments as JSON." }),
        fieldEls,
      ),
      h("label", { for: `${id}-comment`, text: "Comment (optional)" }),
      this.comment,
      h(
        "div",
        { class: "actions" },
        h("button", {
          type: "submit",
          class: "primary",
          "data-testid": "edit-submit",
          text: "Run with these arguments",
        }),
        h("button", {
          type: "button",
          "data-testid": "edit-cancel",
          text: "Cancel",
          onclick: () => card.toggle(null),
        }),
      ),
    );
  }

  focus() {
    this.fields[0]?.control.focus();
  }

  clearErrors() {
    for (const field of this.fields) field.setError("");
  }

  submit() {
    this.clearErrors();
    let args = {};
    let firstBad = null;
    for (const field of this.fields) {
      const result = field.read();
      if (result.error) {
        field.setError(result.error);
        firstBad ??= field;
      } else if (field.name === null) args = result.value;
      else if (!result.omit) args[field.name] = result.value;
    }
    if (firstBad) {
      this.card.error.textContent = "Fix the marked arguments first.";
      firstBad.control.focus();
      return;
    }
    const comment = this.comment.value.trim();
    this.card.decide({ decision: "edit", arguments: args, comment: comment || undefined });
  }

  /** Mark the arguments a 422 names (its `errors`, `unknown_arguments`, or its detail's
   * "name: message" list); returns the first field marked, to focus. */
  showServerErrors(exc) {
    const marked = [];
    const mark = (name, message) => {
      const field = this.fields.find((f) => f.name !== null && f.name === name);
      if (field && !marked.includes(field)) {
        field.setError(message);
        marked.push(field);
      }
    };
    for (const entry of exc.errors) {
      const parts = String(entry.field ?? "").split(/[./]/);
      for (const field of this.fields) {
        if (field.name !== null && parts.includes(field.name)) {
          mark(field.name, String(entry.message ?? exc.detail));
        }
      }
    }
    const unknown = exc.problem.unknown_arguments;
    for (const name of Array.isArray(unknown) ? unknown : []) {
      mark(String(name), "The tool does not take this argument.");
    }
    // "invalid arguments for tool 'x': path: missing required argument; n: ..."
    const listed = exc.detail.replace(/^[^:]*:\s*/, "");
    for (const part of listed.split(/;\s*/)) {
      const match = /^([^:\s]+):\s*(.+)$/.exec(part);
      if (match) mark(match[1].split(".")[0], match[2]);
    }
    if (!marked.length) {
      const quotes = (name) => new RegExp(`['"\`]${escapeRegExp(name)}['"\`]`);
      const quoted = this.fields.find((f) => f.name !== null && quotes(f.name).test(exc.detail));
      if (quoted) mark(quoted.name, exc.detail);
    }
    return marked[0] ?? null;
  }
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

class ArgumentField {
  constructor({ id, name, property, inSchema, required, present, value }) {
    Object.assign(this, { id, name, property, required, present });
    this.kind = name === null ? "object" : inputKind(property);
    const testid = name === null ? "edit-arguments-json" : `edit-arg-${name}`;
    const hintId = `${id}-hint`;
    const errorId = `${id}-error`;
    const describedBy = `${hintId} ${errorId}`;
    const common = { id, name: name ?? "arguments", "aria-describedby": describedBy };
    this.control = this.buildControl(common, testid, value);
    const hints = [];
    if (property?.description) hints.push(property.description);
    if (!inSchema && name !== null) hints.push("Not in the tool's schema.");
    if (this.kind === "json" || this.kind === "object") hints.push("JSON.");
    this.errorEl = h("p", {
      id: errorId,
      class: "field-error",
      "data-testid": name === null ? "edit-error" : `edit-error-${name}`,
    });
    const labelText = name === null ? "Arguments" : name;
    const label = h(
      "label",
      { for: id },
      h("code", { text: labelText }),
      required ? h("span", { class: "required", text: " (required)" }) : null,
    );
    const hint = h("p", { id: hintId, class: "hint", text: hints.join(" ") });
    this.el =
      this.kind === "boolean"
        ? h("div", { class: "field checkbox" }, this.control, label, hint, this.errorEl)
        : h("div", { class: "field" }, label, hint, this.control, this.errorEl);
  }

  buildControl(common, testid, value) {
    const p = this.property || {};
    switch (this.kind) {
      case "string": {
        const text = typeof value === "string" ? value : value === undefined ? "" : String(value);
        const long = text.includes("\n") || text.length > 80 || (p.maxLength ?? 0) > 200;
        const control = long
          ? h("textarea", { ...common, rows: String(Math.min(12, text.split("\n").length + 1)) })
          : h("input", { ...common, type: "text", spellcheck: "false" });
        control.value = text;
        control.setAttribute("data-testid", testid);
        return control;
      }
      case "integer":
      case "number": {
        const control = h("input", {
          ...common,
          type: "number",
          step: this.kind === "integer" ? "1" : "any",
          min: p.minimum,
          max: p.maximum,
          "data-testid": testid,
        });
        control.value = typeof value === "number" ? String(value) : "";
        return control;
      }
      case "boolean": {
        const control = h("input", { ...common, type: "checkbox", "data-testid": testid });
        control.checked = value === true;
        return control;
      }
      case "enum": {
        this.options = p.enum;
        if (this.present && !p.enum.some((option) => Object.is(option, value))) {
          this.options = [value, ...p.enum];
        }
        const control = h(
          "select",
          { ...common, "data-testid": testid },
          this.required || this.present ? null : h("option", { value: "", text: "(leave out)" }),
          this.options.map((option, index) =>
            h("option", { value: String(index), text: String(option) }),
          ),
        );
        const chosen = this.options.findIndex((option) => Object.is(option, value));
        control.value = chosen >= 0 ? String(chosen) : "";
        return control;
      }
      default: {
        const text = this.present || value !== undefined ? prettyJson(value) : "";
        const control = h("textarea", {
          ...common,
          class: "json",
          rows: String(Math.min(14, text.split("\n").length + 1)),
          spellcheck: "false",
          "data-testid": testid,
        });
        control.value = text;
        return control;
      }
    }
  }

  /** {value} | {omit: true} | {error} */
  read() {
    const c = this.control;
    const missing = () =>
      this.required ? { error: "This argument is required." } : { omit: true };
    switch (this.kind) {
      case "string":
        if (c.value === "" && !this.present) return missing();
        return { value: c.value };
      case "integer":
      case "number": {
        if (c.validity.badInput) return { error: "Enter a number." };
        if (c.value.trim() === "") return missing();
        const number = Number(c.value);
        if (!Number.isFinite(number)) return { error: "Enter a number." };
        if (this.kind === "integer" && !Number.isInteger(number)) {
          return { error: "Enter a whole number." };
        }
        return { value: number };
      }
      case "boolean":
        if (!c.checked && !this.present && !this.required) return { omit: true };
        return { value: c.checked };
      case "enum":
        if (c.value === "") return missing();
        return { value: this.options[Number(c.value)] };
      default: {
        if (c.value.trim() === "") return missing();
        let value;
        try {
          value = JSON.parse(c.value);
        } catch (exc) {
          return { error: `Not valid JSON: ${exc.message}` };
        }
        const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
        if (this.kind === "object" && !isObject) {
          return { error: "The arguments must be a JSON object: { … }." };
        }
        return { value };
      }
    }
  }

  setError(message) {
    this.errorEl.textContent = message;
    if (message) this.control.setAttribute("aria-invalid", "true");
    else this.control.removeAttribute("aria-invalid");
  }
}

// --- start ---------------------------------------------------------------------------

function start() {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut("Signed out."));
  $("refresh").addEventListener("click", () => refresh());
  document.getElementById("inbox-heading").setAttribute("tabindex", "-1");
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.key) refresh();
  });
  setInterval(() => {
    for (const card of state.cards.values()) card.tick();
  }, 30000);
  const saved = sessionStorage.getItem(KEY_STORAGE);
  if (saved) {
    state.key = saved;
    showInbox();
  } else {
    showSignIn();
  }
}

start();
