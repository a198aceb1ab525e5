// One approval's card: what the model wants to run and why it waits, its decision buttons
// (approve, reject with a comment, edit the arguments), and, once closed, how it ended.

import { api, approvalUrl } from "./api.js";
import { conversationView, reasoningView } from "./approval_context.js";
import {
  OPEN_STATUSES,
  OUTCOME_LABELS,
  describeFailure,
  describeOutcome,
  isClosed,
} from "./approval_status.js";
import { announce, h, prettyJson } from "./dom.js";
import { EditForm } from "./edit_form.js";
import { RejectForm } from "./reject_form.js";
import { timeElement, updateTime } from "./time.js";

let cardCounter = 0;

export class ApprovalCard {
  /** inbox: the list holding the card (see Inbox): holds, moveToDecided, forget, keyRejected. */
  constructor(approval, inbox) {
    this.approval = approval;
    this.inbox = inbox;
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
      reasoningView(a),
      conversationView(a),
      this.actions,
      this.error,
      this.outcome,
    );
    this.el = el;
    this.showState(a);
    return el;
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
    this.rejectForm = new RejectForm(this, rejectId);
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
      this.rejectForm.el,
      this.editForm.el,
    );
  }

  /** Open one of the two sub-forms ("reject", "edit") or close both (null). */
  toggle(which) {
    const rejectOpen = which === "reject" && this.rejectForm.el.hidden;
    const editOpen = which === "edit" && this.editForm.el.hidden;
    this.rejectForm.el.hidden = !rejectOpen;
    this.editForm.el.hidden = !editOpen;
    this.rejectButton.setAttribute("aria-expanded", String(rejectOpen));
    this.editButton.setAttribute("aria-expanded", String(editOpen));
    if (rejectOpen) this.rejectForm.focus();
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
      decided = await api(approvalUrl(this.approval.id, "decision"), { method: "POST", body });
    } catch (exc) {
      failure = exc;
    }
    if (failure?.status === 401) {
      this.inbox.keyRejected(failure.detail);
      return;
    }
    if (failure) {
      this.error.textContent = `${describeFailure(failure)}: ${failure.detail}`;
      const invalid = failure.status === 422 ? this.editForm.showServerErrors(failure) : null;
      if (failure.status === 409) await this.reload(focused !== null);
      this.setBusy(false);
      if (this.el.isConnected && this.inbox.holds(this)) {
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
      const current = await api(approvalUrl(this.approval.id));
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
      const current = await api(approvalUrl(this.approval.id));
      if (isClosed(current)) this.finish(current, false, this.el.contains(document.activeElement));
      else this.update(current);
    } catch (exc) {
      if (exc.status === 404) {
        this.inbox.forget(this);
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
    this.inbox.moveToDecided(this);
    const sentence = this.outcome.firstChild?.textContent || "";
    announce(`${this.approval.tool}: ${sentence}`);
    if (hadFocus) {
      const nextApprove = next?.querySelector('[data-testid="approve"]');
      (nextApprove || document.getElementById("inbox-heading")).focus();
    }
  }
}
