// An approval's status in words: its badge, whether it is still open, how it ended, and why a
// decision sent from this page was not taken.

import { h, prettyJson } from "./dom.js";
import { timeElement } from "./time.js";

export const OUTCOME_LABELS = {
  pending: "Pending",
  escalated: "Escalated",
  approved: "Approved",
  rejected: "Rejected",
  edited: "Edited",
  timed_out: "Timed out",
  cancelled: "Cancelled",
};
export const OPEN_STATUSES = new Set(["pending", "escalated"]);

const DECISION_OUTCOMES = { approve: "approved", reject: "rejected", edit: "edited" };

/** Decided (a decision is recorded) or ended some other way. */
export function isClosed(approval) {
  return Boolean(approval.decision) || !OPEN_STATUSES.has(approval.status);
}

/** A failed decision's heading, from the API's status code. */
export function describeFailure(exc) {
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

/** The elements telling how a closed approval ended; the first is its one-line summary. */
export function describeOutcome(approval, byThisPage) {
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
