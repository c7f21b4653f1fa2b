// The operator console at /console: sign in with a project API key (kept in this
// module's memory only), list and search the project's threads, open one (its items
// drawn by the chat UI's renderer, read-only, with their feedback marks), rename,
// lock, close, reopen or delete it, post a message as the assistant, and download a
// thread or the export format of the project (or of one user).

import { h } from '/ui/chat/dom.js';
import { wireTheme } from '/ui/page/theme.js';
import { ItemsView, protocolShape } from './items.js';
import { Rest, headerSafe } from './rest.js';

const PAGE = 20;
const ITEMS_PAGE = 100;

const $ = (id) => document.getElementById(id);
const els = Object.fromEntries([
  'sign-in', 'sign-in-form', 'sign-in-error', 'api-key', 'theme', 'sign-out', 'workspace',
  'filters', 'q', 'user-filter', 'order', 'export', 'list-status', 'thread-list', 'more',
  'thread', 'thread-title', 'thread-meta', 'rename-form', 'rename', 'status-form', 'reason',
  'download', 'delete', 'thread-error', 'items', 'more-items', 'post-form', 'post-text',
  'confirm', 'confirm-text', 'no-thread',
].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]));

/** `rest` holds the only secret; `generation` drops answers for a list or thread left. */
const state = {
  rest: null,
  query: null,
  after: null,
  thread: null,
  items: null, // {client, after, hasMore} of the open thread's items
  generation: 0,
};
const view = new ItemsView(els.items);

// --- small helpers ------------------------------------------------------------------------

function when(seconds) {
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

function statusText(status) {
  if (!status || status.type === 'active') return 'active';
  return status.reason ? `${status.type}: ${status.reason}` : status.type;
}

function titleOf(thread) {
  return thread.title || 'Untitled thread';
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function fileName(text) {
  return text.replace(/[^\w.-]+/g, '_').slice(0, 80);
}

/** Runs `work`; an error is shown in `where` (401 signs out). */
async function guarded(where, work) {
  where.textContent = '';
  try {
    return await work();
  } catch (error) {
    if (error.status === 401) {
      showSignIn('The API key stopped working. Sign in again.');
    } else {
      where.textContent = error.message || String(error);
    }
    return undefined;
  }
}

// --- signing in ---------------------------------------------------------------------------

function showSignIn(message = '') {
  state.rest = null;
  state.generation += 1;
  closeThread();
  els.threadList.replaceChildren();
  els.workspace.hidden = true;
  els.signOut.hidden = true;
  els.signIn.hidden = false;
  els.signInError.textContent = message;
  els.apiKey.focus();
}

async function signIn(key) {
  const rest = new Rest(key);
  try {
    await rest.threads({ limit: 1 });
  } catch (error) {
    els.signInError.textContent =
      error.status === 401 ? 'That API key is not valid here.' : `Could not sign in: ${error.message}`;
    return;
  }
  state.rest = rest;
  els.apiKey.value = '';
  els.signIn.hidden = true;
  els.signOut.hidden = false;
  els.workspace.hidden = false;
  await loadList(false);
}

// --- the list -----------------------------------------------------------------------------

function currentQuery() {
  return {
    q: els.q.value.trim(),
    user: els.userFilter.value.trim(),
    order: els.order.value,
  };
}

function row(thread) {
  const open = () => openThread(thread.id);
  return h('li', { dataset: { threadId: thread.id } },
    h('button', { type: 'button', class: 'thread-row', onclick: open },
      h('span', { class: 'row-title' }, titleOf(thread)),
      h('span', { class: 'row-meta' },
        h('span', { class: 'row-user' }, thread.user),
        h('span', { class: 'row-date' }, when(thread.created_at)),
        h('span', { class: 'row-status', dataset: { status: thread.status?.type || 'active' } },
          statusText(thread.status)))));
}

function markSelected() {
  for (const li of els.threadList.children) {
    const button = li.querySelector('button');
    if (li.dataset.threadId === state.thread?.id) button.setAttribute('aria-current', 'true');
    else button.removeAttribute('aria-current');
  }
}

/** The first page of the filters' threads, or (`more`) the next page after those shown. */
async function loadList(more) {
  if (!more) {
    state.query = currentQuery();
    state.after = null;
  }
  const generation = state.generation;
  const page = await guarded(els.listStatus, () =>
    state.rest.threads({ ...state.query, limit: PAGE, after: state.after || undefined }));
  if (!page || generation !== state.generation) return;
  if (!more) els.threadList.replaceChildren();
  els.threadList.append(...page.data.map(row));
  state.after = page.last_id;
  els.more.hidden = !page.has_more;
  const shown = els.threadList.children.length;
  els.listStatus.textContent = shown
    ? `${shown} thread${shown === 1 ? '' : 's'}${page.has_more ? ' shown, more to load' : ''}`
    : 'No threads found.';
  markSelected();
}

function updateRow(thread) {
  const li = [...els.threadList.children].find((el) => el.dataset.threadId === thread.id);
  if (li) li.replaceWith(row(thread));
  markSelected();
}

// --- one thread ---------------------------------------------------------------------------

function closeThread() {
  state.thread = null;
  state.items = null;
  view.clear();
  els.thread.hidden = true;
  els.noThread.hidden = false;
  markSelected();
}

function showThread(thread) {
  state.thread = thread;
  els.threadTitle.textContent = titleOf(thread);
  const status = thread.status?.type || 'active';
  els.threadMeta.replaceChildren(
    ...[['User', thread.user], ['Created', when(thread.created_at)], ['Status', statusText(thread.status)], ['Id', thread.id]]
      .flatMap(([term, value]) => [h('dt', {}, term), h('dd', { dataset: { field: term.toLowerCase() } }, value)]),
  );
  els.rename.value = thread.title || '';
  for (const button of els.statusForm.querySelectorAll('[data-status]')) {
    button.disabled = button.dataset.status === status;
  }
  els.thread.hidden = false;
  els.noThread.hidden = true;
  updateRow(thread);
}

/** The next page of the open thread's items, as the protocol gives them (or REST's, for
 * a user name no header can carry). */
async function loadItems(generation) {
  const items = state.items;
  let data;
  if (items.client) {
    const params = { thread_id: state.thread.id, order: 'asc', limit: ITEMS_PAGE };
    if (items.after) params.after = items.after;
    const page = await items.client.request('items.list', params);
    data = page.data || [];
    items.hasMore = !!page.has_more;
    items.after = page.after ?? data.at(-1)?.id ?? items.after;
  } else {
    data = (await state.rest.restItems(state.thread.id)).map(protocolShape).filter(Boolean);
    items.hasMore = false;
  }
  if (generation !== state.generation) return;
  if (!items.client) view.clear(state.thread);
  view.add(data);
  els.moreItems.hidden = !items.hasMore;
}

async function loadMarks(generation) {
  const marks = await state.rest.feedback(state.thread.id);
  if (generation === state.generation) view.mark(marks.data);
}

async function openThread(id) {
  state.generation += 1;
  const generation = state.generation;
  await guarded(els.threadError, async () => {
    const thread = await state.rest.thread(id);
    if (generation !== state.generation) return;
    view.clear(thread);
    showThread(thread);
    state.items = { client: headerSafe(thread.user) ? state.rest.protocol(thread.user) : null, after: null, hasMore: false };
    await loadItems(generation);
    await loadMarks(generation);
  });
}

async function update(body) {
  const thread = state.thread;
  await guarded(els.threadError, async () => showThread(await state.rest.update(thread.id, body)));
}

async function postAsAssistant(text) {
  const generation = state.generation;
  await guarded(els.threadError, async () => {
    await state.rest.append(state.thread.id, [
      { type: 'chatkit.assistant_message', content: [{ type: 'output_text', text }] },
    ]);
    els.postText.value = '';
    if (!state.items.hasMore) await loadItems(generation);
  });
}

async function deleteThread() {
  const thread = state.thread;
  els.confirmText.textContent = `\u201c${titleOf(thread)}\u201d of ${thread.user} and all its items are deleted for good.`;
  els.confirm.returnValue = '';
  els.confirm.showModal();
  const answer = await new Promise((resolve) =>
    els.confirm.addEventListener('close', () => resolve(els.confirm.returnValue), { once: true }));
  if (answer !== 'delete') return;
  await guarded(els.threadError, async () => {
    await state.rest.remove(thread.id);
    [...els.threadList.children].find((li) => li.dataset.threadId === thread.id)?.remove();
    closeThread();
    els.listStatus.textContent = `Deleted \u201c${titleOf(thread)}\u201d.`;
  });
}

/** The open thread as JSON Lines: its line, then its items' (the export's lines for it). */
async function downloadThread() {
  const thread = state.thread;
  await guarded(els.threadError, async () => {
    const [fresh, items] = await Promise.all([state.rest.thread(thread.id), state.rest.restItems(thread.id)]);
    const lines = [fresh, ...items].map((o) => `${JSON.stringify(o)}\n`);
    save(new Blob(lines, { type: 'application/x-ndjson' }), `${fileName(thread.id)}.jsonl`);
  });
}

async function exportThreads() {
  const user = els.userFilter.value.trim();
  await guarded(els.listStatus, async () => {
    const blob = await state.rest.export(user || undefined);
    save(blob, user ? `threadkit-export-${fileName(user)}.jsonl` : 'threadkit-export.jsonl');
    els.listStatus.textContent = user ? `Exported the threads of ${user}.` : 'Exported the project.';
  });
}

// --- wiring -------------------------------------------------------------------------------

function main() {
  wireTheme(els.theme, (scheme) => view.setScheme(scheme));
  els.signOut.addEventListener('click', () => showSignIn());
  els.signInForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = els.apiKey.value.trim();
    if (key) signIn(key);
  });
  els.filters.addEventListener('submit', (event) => {
    event.preventDefault();
    loadList(false);
  });
  els.order.addEventListener('change', () => loadList(false));
  els.more.addEventListener('click', () => loadList(true));
  els.export.addEventListener('click', () => exportThreads());
  els.renameForm.addEventListener('submit', (event) => {
    event.preventDefault();
    update({ title: els.rename.value.trim() || null });
  });
  els.statusForm.addEventListener('submit', (event) => event.preventDefault());
  for (const button of els.statusForm.querySelectorAll('[data-status]')) {
    button.addEventListener('click', () => {
      const type = button.dataset.status;
      const reason = els.reason.value.trim();
      update({ status: type === 'active' ? { type } : { type, reason: reason || null } });
    });
  }
  els.download.addEventListener('click', () => downloadThread());
  els.delete.addEventListener('click', () => deleteThread());
  els.moreItems.addEventListener('click', () =>
    guarded(els.threadError, async () => {
      const generation = state.generation;
      await loadItems(generation);
      await loadMarks(generation);
    }));
  els.postForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = els.postText.value.trim();
    if (text) postAsAssistant(text);
  });
  showSignIn();
}

main();
