// A task's live events from GET /v1/tasks/{id}/stream (Server-Sent Events). Read with fetch,
// not EventSource, so the request carries the key as a bearer header; a dropped connection is
// reopened with Last-Event-ID, which resumes with no gap and no repeat.

const RETRY_MS = [500, 1000, 2000, 5000];

export class EventStream {
  /** onEvent(type, data, id) for each event (`delta` ones too); onEnd() once the task is final;
   * onTrouble(message|null) while the stream is down and once it is back. */
  constructor(taskId, key, { onEvent, onEnd, onTrouble }) {
    this.url = `/v1/tasks/${encodeURIComponent(taskId)}/stream`;
    this.key = key;
    this.onEvent = onEvent;
    this.onEnd = onEnd;
    this.onTrouble = onTrouble;
    this.lastId = null;
    this.controller = null;
    this.stopped = false;
  }

  start() {
    this.run();
  }

  stop() {
    this.stopped = true;
    this.controller?.abort();
  }

  async run() {
    let failures = 0;
    while (!this.stopped) {
      let ended = false;
      try {
        ended = await this.readOnce();
        failures = 0;
      } catch (exc) {
        if (this.stopped) return;
        if (exc?.fatal) {
          this.onTrouble(exc.message);
          return;
        }
        failures += 1;
        this.onTrouble("The live feed dropped; reconnecting…");
      }
      if (ended) {
        this.onEnd();
        return;
      }
      await sleep(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
    }
  }

  /** One connection; true once the server said the task is final. */
  async readOnce() {
    this.controller = new AbortController();
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${this.key}` };
    if (this.lastId !== null) headers["Last-Event-ID"] = String(this.lastId);
    const response = await fetch(this.url, {
      headers,
      cache: "no-store",
      credentials: "omit",
      signal: this.controller.signal,
    });
    if (!response.ok) {
      const error = new Error(`The live feed was refused (${response.status}).`);
      error.fatal = response.status >= 400 && response.status < 500;
      throw error;
    }
    this.onTrouble(null);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      buffer += value.replace(/\r\n/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (this.handle(block)) {
          this.controller.abort();
          return true;
        }
      }
    }
  }

  /** One SSE block; true for `end`. */
  handle(block) {
    let id = null;
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = Number(value);
      else if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return false;
    if (type === "end") return true;
    let parsed;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      return false;
    }
    if (id !== null) this.lastId = id;
    this.onEvent(type, parsed, id);
    return false;
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
