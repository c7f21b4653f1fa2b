// The open thread's items: the newest page first (items.list, order "desc", 20 at a
// time), older pages added above as the reader scrolls up (the scroll position kept),
// and the stream's item events applied as they come.

import { h } from './dom.js';
import { createView } from './items.js';

const PAGE = 20;
/** Older items are fetched when the reader is this close to the top (px). */
const NEAR_TOP_PX = 200;
/** Within this of the bottom, new content keeps the view at the bottom (px). */
const NEAR_BOTTOM_PX = 80;

export class ThreadItems {
  /** host: {client(), ctx(), error(e), log(name, data)}; scroller: the scrolling element. */
  constructor(host, scroller) {
    this.host = host;
    this.scroller = scroller;
    this.list = h('div', { class: 'tk-items' });
    this.older = h('p', { class: 'tk-older tk-muted', role: 'status', hidden: true }, 'Loading earlier messages\u2026');
    this.views = new Map();
    this.threadId = null;
    this.after = null;
    this.hasMore = false;
    this.loading = null;
    this.generation = 0;
    this.stuck = true;
    scroller.addEventListener('scroll', () => {
      this.stuck = this.nearBottom();
      if (scroller.scrollTop < NEAR_TOP_PX) this.loadOlder();
    }, { passive: true });
    // Content that grows (a streamed answer, an image loading) keeps a reader who
    // was at the bottom at the bottom.
    new ResizeObserver(() => {
      if (this.stuck) this.scrollToBottom();
    }).observe(this.list);
  }

  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.stuck = true;
  }

  get empty() {
    return this.views.size === 0;
  }

  reset(threadId = null) {
    this.generation += 1;
    this.threadId = threadId;
    this.views.clear();
    this.list.replaceChildren();
    this.after = null;
    this.hasMore = false;
    this.loading = null;
    this.older.hidden = true;
    this.stuck = true;
  }

  /** Shows `threadId` from its newest page. */
  async open(threadId) {
    this.reset(threadId);
    await this.fetchPage(this.generation);
    this.scrollToBottom();
    await this.fillViewport();
  }

  async fetchPage(generation) {
    const params = { thread_id: this.threadId, order: 'desc', limit: PAGE };
    if (this.after) params.after = this.after;
    const page = await this.host.client().request('items.list', params);
    if (generation !== this.generation) return;
    const items = page.data || [];
    this.hasMore = !!page.has_more;
    this.after = page.after ?? items.at(-1)?.id ?? null;
    const ctx = this.host.ctx();
    const fragment = document.createDocumentFragment();
    for (const item of [...items].reverse()) {
      if (this.views.has(item.id)) continue;
      const view = createView(item, ctx, false);
      if (!view) continue;
      this.views.set(item.id, view);
      fragment.append(view.el);
    }
    // Keep what the reader sees in place while the page goes in above it.
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    this.list.prepend(fragment);
    this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
    this.host.log('items.page', { count: items.length, has_more: this.hasMore });
  }

  /** The next older page, if there is one and none is on its way. */
  loadOlder() {
    if (!this.threadId || !this.hasMore || this.loading) return this.loading;
    const generation = this.generation;
    this.older.hidden = false;
    this.loading = this.fetchPage(generation)
      .catch((error) => this.host.error(error))
      .finally(() => {
        if (generation !== this.generation) return;
        this.loading = null;
        this.older.hidden = true;
        this.fillViewport();
      });
    return this.loading;
  }

  /** Older pages until the items overflow the view (or the reader is no longer at the top). */
  async fillViewport() {
    const s = this.scroller;
    if (this.hasMore && (s.scrollHeight <= s.clientHeight || s.scrollTop < NEAR_TOP_PX)) {
      await this.loadOlder();
    }
  }

  // --- stream events ----------------------------------------------------------------------

  add(item, streaming) {
    const existing = this.views.get(item.id);
    if (existing) {
      existing.update(item, !streaming);
      return existing;
    }
    const view = createView(item, this.host.ctx(), streaming);
    if (!view) return null;
    this.views.set(item.id, view);
    this.list.append(view.el);
    return view;
  }

  update(itemId, update) {
    this.views.get(itemId)?.applyUpdate(update);
  }

  done(item) {
    const view = this.views.get(item.id);
    if (view) view.update(item, true);
    else this.add(item, false);
  }

  replace(item) {
    const view = this.views.get(item.id);
    if (!view) return this.add(item, false);
    const next = createView(item, this.host.ctx(), false);
    if (!next) return this.remove(item.id);
    view.el.replaceWith(next.el);
    this.views.set(item.id, next);
    return next;
  }

  remove(itemId) {
    const view = this.views.get(itemId);
    if (!view) return;
    view.el.remove();
    this.views.delete(itemId);
  }

  /** Ends every item still streaming (the stream ended or was stopped). */
  finishAll() {
    for (const view of this.views.values()) view.finish();
  }

  // --- order ------------------------------------------------------------------------------

  ordered() {
    return [...this.list.children].map((el) => this.views.get(el.dataset.itemId)).filter(Boolean);
  }

  /** The last user message at or before `view` (the last of the thread without one). */
  userMessageBefore(view = null) {
    const views = this.ordered();
    let i = view ? views.indexOf(view) : views.length - 1;
    for (; i >= 0; i -= 1) if (views[i].item.type === 'user_message') return views[i];
    return null;
  }

  /** Removes every item after `view` (what a retry replaces). */
  removeAfter(view) {
    const views = this.ordered();
    for (const later of views.slice(views.indexOf(view) + 1)) this.remove(later.item.id);
  }
}
