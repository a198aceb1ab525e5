// A card's reject form: an optional comment, shown to the model with the rejection.

import { h } from "./dom.js";

export class RejectForm {
  /** card: the ApprovalCard it decides (its decide and toggle); id: the form's element id. */
  constructor(card, id) {
    const commentId = `${id}-comment`;
    this.comment = h("textarea", {
      id: commentId,
      rows: "3",
      "aria-describedby": `${commentId}-hint`,
      "data-testid": "reject-comment",
    });
    this.el = h(
      "form",
      {
        id,
        class: "subform",
        hidden: true,
        "data-testid": "reject-form",
        onsubmit: (event) => {
          event.preventDefault();
          const comment = this.comment.value.trim();
          card.decide({ decision: "reject", comment: comment || undefined });
        },
      },
      h("label", { for: commentId, text: "Comment (why not)" }),
      h("p", {
        class: "hint",
        id: `${commentId}-hint`,
        text: "The model is shown this comment with the rejection.",
      }),
      this.comment,
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
          onclick: () => card.toggle(null),
        }),
      ),
    );
  }

  focus() {
    this.comment.focus();
  }
}
