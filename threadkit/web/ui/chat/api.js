// The ChatKit protocol over HTTP: every request is `POST api.url` with
// `{type, params}`; the answer is JSON, or server-sent events for the streaming
// requests (each `data:` a JSON stream event).

/** Every request and stream fetches at most this old a secret (sessions last <= 10 min). */
const SECRET_MAX_AGE_MS = 9 * 60 * 1000;

export class ChatKitError extends Error {
  constructor(message, { status = 0, code = null, type = null } = {}) {
    super(message);
    this.name = 'ChatKitError';
    this.status = status;
    this.code = code;
    this.type = type;
  }
}

async function errorOf(response) {
  let message = `The server answered ${response.status}.`;
  let code = null;
  let type = null;
  try {
    const body = await response.json();
    if (body?.error) {
      message = body.error.message || message;
      code = body.error.code ?? null;
      type = body.error.type ?? null;
    }
  } catch {
    // not the error envelope: keep the status line
  }
  return new ChatKitError(message, { status: response.status, code, type });
}

/** The `data` of each server-sent event of `body` (a ReadableStream of bytes). */
export async function* sseData(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        // a lone \r at the end may be the first half of \r\n
        if (end < 0 || (end === buffer.length - 1 && buffer[end] === '\r')) break;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(buffer.startsWith('\r\n', end) ? end + 2 : end + 1);
        if (line === '') {
          if (data.length) yield data.join('\n');
          data = [];
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? '' : line.slice(colon + 1);
          if (text.startsWith(' ')) text = text.slice(1);
          if (field === 'data') data.push(text);
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
  // an event not ended by a blank line is dropped, as the standard says
}

/**
 * A client of one ChatKit endpoint. `api` is the `api` option: `url`, and either
 * `getClientSecret(current)` (its secret goes in `Authorization: Bearer`) or a `fetch`
 * of the app's own (then no Authorization header is added), or both.
 */
export class ChatKitClient {
  constructor(api, log = () => {}) {
    this.log = log;
    this.secret = null;
    this.secretAt = 0;
    this.pendingSecret = null;
    this.configure(api);
  }

  configure(api) {
    if (this.api && this.api.getClientSecret !== api.getClientSecret) {
      this.secret = null;
    }
    this.api = api;
  }

  get url() {
    return this.api.url;
  }

  async currentSecret(refresh) {
    const get = this.api.getClientSecret;
    if (typeof get !== 'function') return null;
    const stale = Date.now() - this.secretAt > SECRET_MAX_AGE_MS;
    if (this.secret && !refresh && !stale) return this.secret;
    if (!this.pendingSecret) {
      const previous = this.secret;
      this.log('secret.refresh', { reason: refresh ? 'unauthorized' : previous ? 'age' : 'first' });
      this.pendingSecret = Promise.resolve(get(previous))
        .then((secret) => {
          if (typeof secret !== 'string' || !secret) {
            throw new ChatKitError('getClientSecret did not return a secret.');
          }
          this.secret = secret;
          this.secretAt = Date.now();
          return secret;
        })
        .finally(() => {
          this.pendingSecret = null;
        });
    }
    return this.pendingSecret;
  }

  async send(type, params, signal) {
    if (!this.api.url) throw new ChatKitError('No api.url is set.');
    const body = JSON.stringify({ type, params, metadata: {} });
    const doFetch = this.api.fetch || window.fetch.bind(window);
    const post = async (secret) => {
      const headers = { 'Content-Type': 'application/json', Accept: 'text/event-stream, application/json' };
      if (secret) headers.Authorization = `Bearer ${secret}`;
      return doFetch(this.api.url, { method: 'POST', headers, body, signal });
    };
    this.log('request', { type });
    let response = await post(await this.currentSecret(false));
    if (response.status === 401 && typeof this.api.getClientSecret === 'function') {
      // The secret was refused (expired, cancelled): ask for a new one, try once more.
      try {
        await response.body?.cancel();
      } catch {
        // nothing to cancel
      }
      response = await post(await this.currentSecret(true));
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  /** A non-streaming request's JSON answer. */
  async request(type, params, { signal } = {}) {
    const response = await this.send(type, params, signal);
    const text = await response.text();
    return text ? JSON.parse(text) : {};
  }

  /**
   * A streaming request: `onEvent(event)` for each event, in order, as it arrives.
   * Resolves when the stream ends; rejects with an AbortError when `signal` aborts.
   */
  async stream(type, params, { signal, onEvent }) {
    const response = await this.send(type, params, signal);
    const kind = response.headers.get('content-type') || '';
    if (!kind.includes('text/event-stream')) {
      const text = await response.text();
      if (text) onEvent(JSON.parse(text));
      return;
    }
    for await (const data of sseData(response.body)) {
      let event;
      try {
        event = JSON.parse(data);
      } catch {
        this.log('stream.bad_event', { data: data.slice(0, 200) });
        continue;
      }
      onEvent(event);
    }
  }
}
