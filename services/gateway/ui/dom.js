// Building and finding the page's elements. Every piece of data reaches the page as text
// (textContent, setAttribute, append of strings), never as HTML.

/** Build an element. Strings among the children become text nodes. */
export function h(tag, props = {}, ...children) {
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

/** The first element with this data-testid. */
export const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

export function prettyJson(value) {
  try {
    return JSON.stringify(value, null, 2) ?? "null";
  } catch {
    return String(value);
  }
}

/** Say something to screen readers through the page's polite live region. */
export function announce(text) {
  const el = $("announcer");
  el.textContent = "";
  // a fresh text node after a tick, so repeated messages are announced again
  setTimeout(() => {
    el.textContent = text;
  }, 50);
}
