// A card's edit form: one field per argument of the tool's JSON schema (or one JSON box when
// the tool has none), read back into the arguments to run with, and marked where the gateway
// refuses them (422).

import { ArgumentField } from "./argument_field.js";
import { h } from "./dom.js";

/** card: the ApprovalCard it edits (its approval, error line, decide and toggle). */
export class EditForm {
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
