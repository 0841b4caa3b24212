// Server-Sent Events, shared by the benchmark and the tests: an incremental parser of the event
// stream format (WHATWG HTML 9.2.6) and a small client for GET endpoints such as /api/live-streams.
'use strict';

/**
 * Feeds text chunks in any split; calls onEvent(type, data, id) once per dispatched event. `data`
 * is the joined data lines, parsed as JSON when it is JSON, else the string itself.
 */
class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.type = '';
    this.data = [];
    this.id = undefined;
  }

  push(chunk) {
    this.buffer += chunk;
    // A trailing '\r' may be the first half of '\r\n': keep it for the next chunk.
    const re = /\r\n|\r(?!$)|\n/g;
    let start = 0;
    let m;
    while ((m = re.exec(this.buffer)) !== null) {
      this.line(this.buffer.slice(start, m.index));
      start = m.index + m[0].length;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return; // comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }

  dispatch() {
    const type = this.type || 'message';
    const had = this.data.length > 0;
    const text = this.data.join('\n');
    this.type = '';
    this.data = [];
    if (!had) return;
    let data = text;
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: hand the text over as it is
    }
    this.onEvent(type, data, this.id);
  }
}

/**
 * Opens an event stream with fetch and records every event ({ type, data, at }, `at` = Date.now()
 * on arrival). `opened` resolves once the response headers are in (events before that are not
 * seen) and rejects on a non-2xx answer; `close()` ends it.
 */
class SseClient {
  constructor(url, { onEvent, headers } = {}) {
    this.events = [];
    this.controller = new AbortController();
    const parser = new SseParser((type, data) => {
      const event = { type, data, at: Date.now() };
      this.events.push(event);
      if (onEvent) onEvent(event);
    });
    this.opened = fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: this.controller.signal }).then((res) => {
      if (!res.ok || !res.body) throw new Error(`GET ${url}: ${res.status}`);
      return res.body;
    });
    this.ended = this.opened
      .then(async (body) => {
        const decoder = new TextDecoder();
        for await (const chunk of body) parser.push(decoder.decode(chunk, { stream: true }));
      })
      .catch((error) => {
        if (!this.controller.signal.aborted) throw error;
      });
    // Errors surface through `opened`/`ended` for callers that await them; never as unhandled rejections.
    this.ended.catch(() => undefined);
    this.opened = this.opened.then(() => undefined);
    this.opened.catch(() => undefined);
  }

  /** The first event of `type` (and, if given, whose data.peerId is `peerId`). */
  find(type, peerId) {
    return this.events.find((e) => e.type === type && (peerId === undefined || (e.data && e.data.peerId === peerId)));
  }

  close() {
    this.controller.abort();
  }
}

module.exports = { SseParser, SseClient };
