// The inbox: the open approvals, fetched every few seconds while the tab is visible and shown
// as one card each, and the cards decided while the page was open.

import { api, approvalUrl, currentKey } from "./api.js";
import { ApprovalCard } from "./approval_card.js";
import { isClosed } from "./approval_status.js";
import { $ } from "./dom.js";
import { clockFormat } from "./time.js";

const REFRESH_MS = 5000;
const TICK_MS = 30000;
const PAGE_LIMIT = 50;
const MAX_PAGES = 4;
const MAX_DECIDED_SHOWN = 25;

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

export class Inbox {
  /** onKeyRejected(detail): the API refused the key (401), so the session must end. */
  constructor({ onKeyRejected }) {
    this.onKeyRejected = onKeyRejected;
    this.cards = new Map(); // approval id -> ApprovalCard, open ones
    // decided or gone: a list fetched before that must not bring them back
    this.closedIds = new Set();
    this.timer = null;
    this.refreshing = false;
    this.listComplete = true; // false when the open list had more pages than fetched
    this.lastCountText = null;
  }

  /** Wire the refresh button and the return to the tab; keep the cards' times current. */
  start() {
    $("refresh").addEventListener("click", () => this.refresh());
    document.getElementById("inbox-heading").setAttribute("tabindex", "-1");
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && currentKey()) this.refresh();
    });
    setInterval(() => {
      for (const card of this.cards.values()) card.tick();
    }, TICK_MS);
  }

  /** Show the inbox and refresh it every few seconds, while the tab is visible. */
  open({ focusHeading = false } = {}) {
    $("inbox").hidden = false;
    this.refresh();
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, REFRESH_MS);
    if (focusHeading) document.getElementById("inbox-heading").focus();
  }

  /** Stop refreshing, forget every card and hide both lists. */
  close() {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const card of this.cards.values()) card.el.remove();
    this.cards.clear();
    this.closedIds.clear();
    $("decided-list").replaceChildren();
    $("decided").hidden = true;
    $("inbox").hidden = true;
    this.lastCountText = null;
  }

  async refresh() {
    if (this.refreshing || !currentKey()) return;
    this.refreshing = true;
    const key = currentKey();
    const errorEl = $("inbox-error");
    try {
      const { items, complete } = await listOpenApprovals();
      const detailed = await this.withDetails(items);
      if (currentKey() !== key) return; // signed out (or in again) meanwhile
      errorEl.textContent = "";
      this.reconcile(detailed, complete);
      $("last-refreshed").textContent = `Updated ${clockFormat.format(new Date())}`;
    } catch (exc) {
      if (exc.status === 401) {
        this.onKeyRejected(exc.detail);
        return;
      }
      errorEl.textContent = `Could not load approvals: ${exc.detail}`;
    } finally {
      this.refreshing = false;
    }
  }

  /** The inbox may list approvals without their context and tool schema: new cards need both. */
  async withDetails(items) {
    const known = (a) => this.cards.has(a.id) || this.closedIds.has(a.id);
    const needed = items.filter((a) => !known(a) && !("context" in a && "tool_schema" in a));
    const details = await Promise.all(needed.map((a) => api(approvalUrl(a.id)).catch(() => null)));
    const byId = new Map(details.filter(Boolean).map((detail) => [detail.id, detail]));
    return items.map((a) => byId.get(a.id) ?? a);
  }

  reconcile(items, complete) {
    const list = $("open-list");
    const seen = new Set();
    const open = items.filter((a) => !this.closedIds.has(a.id) && !isClosed(a));
    open.forEach((approval, index) => {
      seen.add(approval.id);
      let card = this.cards.get(approval.id);
      if (card) card.update(approval);
      else {
        card = new ApprovalCard(approval, this);
        this.cards.set(approval.id, card);
      }
      // move only what is out of place, so a card being edited keeps its focus
      if (list.children[index] !== card.el) {
        list.insertBefore(card.el, list.children[index] || null);
      }
    });
    if (complete) {
      for (const [id, card] of this.cards) {
        if (!seen.has(id) && !card.busy) card.closedElsewhere();
      }
    }
    this.listComplete = complete;
    this.showCount();
  }

  /** "3 approvals waiting", changed only when it changes: the line is a live region. */
  showCount() {
    const count = this.cards.size;
    $("inbox-empty").hidden = count > 0;
    let text = count === 1 ? "1 approval waiting" : `${count} approvals waiting`;
    if (!this.listComplete) text += ` (showing the first ${count})`;
    if (text !== this.lastCountText) {
      $("inbox-count").textContent = text;
      this.lastCountText = text;
    }
  }

  // --- what a card asks of the inbox that holds it ---

  /** Whether the card is still one of the open ones shown. */
  holds(card) {
    return this.cards.get(card.approval.id) === card;
  }

  moveToDecided(card) {
    this.forget(card);
    const list = $("decided-list");
    list.prepend(card.el);
    while (list.children.length > MAX_DECIDED_SHOWN) list.lastElementChild.remove();
    $("decided").hidden = false;
    this.showCount();
  }

  /** It is closed: a list fetched before now must not bring it back. */
  forget(card) {
    this.cards.delete(card.approval.id);
    this.closedIds.add(card.approval.id);
  }

  keyRejected(detail) {
    this.onKeyRejected(detail);
  }
}
