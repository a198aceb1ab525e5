// Figures as people read them: dollars, token counts, durations, and task statuses.

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const count = new Intl.NumberFormat("en-US");

/** "$0.0042": small amounts keep four significant digits instead of rounding to $0.00. */
export function money(value) {
  const amount = Number(value) || 0;
  if (amount !== 0 && Math.abs(amount) < 0.01) return `$${amount.toPrecision(2)}`;
  return usd.format(amount);
}

export function tokens(value) {
  return count.format(Math.round(Number(value) || 0));
}

/** "850 ms", "3.2 s", "4 min 05 s", "2 h 10 min". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** A task's wall time: until it finished, or until now while it runs. */
export function taskDuration(task, now = Date.now()) {
  const start = Date.parse(task.created_at);
  const end = task.finished_at ? Date.parse(task.finished_at) : now;
  return Math.max(end - start, 0);
}

export const STATUSES = [
  "queued",
  "running",
  "waiting_approval",
  "waiting_input",
  "succeeded",
  "failed",
  "cancelled",
];

export const FINAL_STATUSES = new Set(["succeeded", "failed", "cancelled"]);

export function statusLabel(status) {
  return String(status).replace("_", " ");
}

const whenFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** "Dec 5, 00:00:10", in the reader's time zone. */
export function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : whenFormat.format(date);
}
