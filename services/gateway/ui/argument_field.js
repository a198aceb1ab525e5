// One argument in the edit form: the control its JSON-schema property calls for (text, number,
// checkbox, select, or JSON), its label, hint and error, and its value read back.

import { h, prettyJson } from "./dom.js";

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

export class ArgumentField {
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
