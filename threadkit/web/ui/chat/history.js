// The history panel: the user's threads (threads.list, newest first, a page at a
// time), each opened with a click and, when the options allow it, renamed
// (threads.update) or deleted (threads.delete, after a confirmation in place).

import { h, iconButton } from './dom.js';

const PAGE = 20;

export function threadTitle(thread) {
  return (thread?.title || '').trim() || 'New chat';
}

export class HistoryPanel {
  /** host: {client(), open(id), currentThreadId(), deleted(id), error(e), renamed(thread), options()} */
  constructor(host) {
    this.host = host;
    this.threads = [];
    this.after = null;
    this.hasMore = false;
    this.loading = false;
    this.list = h('ul', { class: 'tk-history-list' });
    this.more = h('button', { type: 'button', class: 'tk-button tk-history-more', hidden: true, onclick: () => this.loadMore() }, 'Load more');
    this.empty = h('p', { class: 'tk-muted tk-history-empty', hidden: true }, 'No chats yet.');
    this.el = h('aside', { class: 'tk-history', 'aria-label': 'Chat history', hidden: true },
      h('div', { class: 'tk-history-head' },
        h('h2', { class: 'tk-history-title' }, 'History'),
        iconButton('close', 'Close history', () => this.host.close())),
      this.empty, this.list, this.more);
  }

  get open() {
    return !this.el.hidden;
  }

  async show() {
    this.el.hidden = false;
    await this.reload();
  }

  hide() {
    this.el.hidden = true;
  }

  async reload() {
    this.threads = [];
    this.after = null;
    this.hasMore = false;
    await this.loadMore();
  }

  async loadMore() {
    if (this.loading) return;
    this.loading = true;
    try {
      const params = { limit: PAGE, order: 'desc' };
      if (this.after) params.after = this.after;
      const page = await this.host.client().request('threads.list', params);
      const known = new Set(this.threads.map((t) => t.id));
      this.threads.push(...(page.data || []).filter((t) => !known.has(t.id)));
      this.hasMore = !!page.has_more;
      this.after = page.after ?? this.threads.at(-1)?.id ?? null;
      this.render();
    } catch (error) {
      this.host.error(error);
    } finally {
      this.loading = false;
    }
  }

  /** A thread made or changed elsewhere (a new chat, a new title). */
  upsert(thread) {
    const i = this.threads.findIndex((t) => t.id === thread.id);
    if (i >= 0) this.threads[i] = { ...this.threads[i], ...thread };
    else this.threads.unshift(thread);
    if (this.open) this.render();
  }

  render() {
    const { showRename, showDelete } = this.host.options().history;
    const current = this.host.currentThreadId();
    this.empty.hidden = this.threads.length > 0;
    this.more.hidden = !this.hasMore;
    this.list.replaceChildren(...this.threads.map((thread) => {
      const title = threadTitle(thread);
      const li = h('li', { class: 'tk-history-entry', dataset: { threadId: thread.id } });
      const openButton = h('button', {
        type: 'button',
        class: 'tk-history-open',
        'aria-current': thread.id === current ? 'true' : null,
        onclick: () => this.host.open(thread.id),
      }, title);
      li.append(openButton);
      if (showRename) li.append(iconButton('rename', `Rename ${title}`, () => this.rename(li, thread)));
      if (showDelete) li.append(iconButton('delete', `Delete ${title}`, () => this.confirmDelete(li, thread)));
      return li;
    }));
  }

  rename(li, thread) {
    const input = h('input', { type: 'text', class: 'tk-rename-input', 'aria-label': 'Title', value: thread.title || '' });
    const save = async () => {
      const title = input.value.trim();
      if (!title) return;
      try {
        const updated = await this.host.client().request('threads.update', { thread_id: thread.id, title });
        Object.assign(thread, { title: updated.title ?? title });
        this.host.renamed(thread);
      } catch (error) {
        this.host.error(error);
      }
      this.render();
    };
    const form = h('form', { class: 'tk-rename', onsubmit: (e) => { e.preventDefault(); save(); } },
      input,
      h('button', { type: 'submit', class: 'tk-button tk-primary' }, 'Save'),
      h('button', { type: 'button', class: 'tk-button', onclick: () => this.render() }, 'Cancel'));
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        this.render();
      }
    });
    li.replaceChildren(form);
    input.focus();
    input.select();
  }

  confirmDelete(li, thread) {
    const title = threadTitle(thread);
    const remove = async () => {
      try {
        await this.host.client().request('threads.delete', { thread_id: thread.id });
        this.threads = this.threads.filter((t) => t.id !== thread.id);
        this.host.deleted(thread.id);
      } catch (error) {
        this.host.error(error);
      }
      this.render();
    };
    const confirmButton = h('button', { type: 'button', class: 'tk-button tk-danger', onclick: remove }, 'Delete');
    li.replaceChildren(h('div', { class: 'tk-confirm', role: 'group', 'aria-label': `Delete ${title}?` },
      h('span', {}, `Delete \u201c${title}\u201d?`),
      confirmButton,
      h('button', { type: 'button', class: 'tk-button', onclick: () => this.render() }, 'Cancel')));
    confirmButton.focus();
  }
}
