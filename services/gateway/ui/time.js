// Times as the approver reads them: "in 3 hours (Nov 22, 2026, 3:08 PM UTC)".

import { h } from "./dom.js";

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const absoluteFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  timeZoneName: "short",
});
export const clockFormat = new Intl.DateTimeFormat(undefined, {
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
export function timeElement(iso, testid) {
  const el = h("time", { datetime: iso, "data-testid": testid });
  updateTime(el);
  return el;
}

export function updateTime(el) {
  const date = new Date(el.getAttribute("datetime"));
  if (Number.isNaN(date.getTime())) {
    el.textContent = el.getAttribute("datetime") || "unknown";
    return;
  }
  el.textContent = `${relativeTime(date)} (${absoluteFormat.format(date)})`;
  el.title = date.toISOString();
}
