// The console's calls: threadkit's REST API with a project API key, and the ChatKit
// protocol's `items.list` as the thread's user (the items in the shapes the chat
// renderer draws). The key lives in a Rest object only: never in storage or the URL.

import { ChatKitClient } from '/ui/chat/api.js';

const BETA = { 'OpenAI-Beta': 'chatkit_beta=v1' };

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function failure(response) {
  const body = await response.json().catch(() => null);
  const message = body?.error?.message || `The server answered ${response.status}.`;
  return new HttpError(response.status, message);
}

/** Whether `text` can go in an HTTP header as is (fetch takes Latin-1 only). */
export function headerSafe(text) {
  return /^[\u0020-\u007e\u00a0-\u00ff]*$/.test(text);
}

export class Rest {
  constructor(apiKey) {
    this.apiKey = apiKey;
  }

  headers(extra = {}) {
    return { Authorization: `Bearer ${this.apiKey}`, ...BETA, ...extra };
  }

  /** The answer of `path` (under /v1); throws an HttpError with the envelope's message. */
  async fetch(path, { method = 'GET', query, body } = {}) {
    const url = new URL(`/v1${path}`, window.location.origin);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
    }
    const init = { method, headers: this.headers(), credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    if (!response.ok) throw await failure(response);
    return response;
  }

  async json(path, options) {
    return (await this.fetch(path, options)).json();
  }

  threads(query) {
    return this.json('/chatkit/threads', { query });
  }

  thread(id) {
    return this.json(`/chatkit/threads/${encodeURIComponent(id)}`);
  }

  update(id, body) {
    return this.json(`/chatkit/threads/${encodeURIComponent(id)}`, { method: 'POST', body });
  }

  remove(id) {
    return this.json(`/chatkit/threads/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  append(id, items) {
    return this.json(`/chatkit/threads/${encodeURIComponent(id)}/items`, { method: 'POST', body: { items } });
  }

  feedback(id) {
    return this.json(`/chatkit/threads/${encodeURIComponent(id)}/feedback`);
  }

  /** Every item of the thread in REST shapes, oldest first. */
  async restItems(id) {
    const items = [];
    let after;
    for (;;) {
      const page = await this.json(`/chatkit/threads/${encodeURIComponent(id)}/items`, {
        query: { order: 'asc', limit: 100, after },
      });
      items.push(...page.data);
      if (!page.has_more || !page.data.length) return items;
      after = page.last_id;
    }
  }

  /** The export format (`threadkit export`), of one user or of the whole project. */
  async export(user) {
    return (await this.fetch('/chatkit/export', { query: { user } })).blob();
  }

  /** A protocol client acting as `user` with this key (`X-ChatKit-User`). */
  protocol(user) {
    const headers = { ...BETA, 'X-ChatKit-User': user };
    return new ChatKitClient({
      url: '/chatkit',
      getClientSecret: () => this.apiKey,
      fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...headers }, credentials: 'omit' }),
    });
  }
}
