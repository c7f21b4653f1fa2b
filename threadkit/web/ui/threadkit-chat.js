// <threadkit-chat>: a chat UI for any ChatKit server (threadkit, or one built on
// openai-chatkit's ChatKitServer), configured like ChatKit.js's element:
//
//   const chat = document.createElement('threadkit-chat');
//   chat.setOptions({ api: { url: '/chatkit', getClientSecret: async (current) => ... } });
//   document.body.append(chat);
//
// Option, method and event names are ChatKit.js's (the @openai/chatkit types).

import { ChatKitClient, ChatKitError } from './chat/api.js';
import { uploadFile } from './chat/attachments.js';
import { Composer } from './chat/composer.js';
import { h, icon, iconButton } from './chat/dom.js';
import { HistoryPanel, threadTitle } from './chat/history.js';
import { isImageAllowed, isLinkAllowed, renderMarkdown } from './chat/markdown.js';
import { accepted, maxSizeFor, resolveOptions, unknownOptions } from './chat/options.js';
import { ThreadItems } from './chat/thread.js';
import { WidgetsBridge } from './chat/widgets-bridge.js';

const STYLESHEET = new URL('./chat.css', import.meta.url).href;
const TOAST_MS = 8000;
const HEADER_ICONS = {
  'sidebar-left': 'menu', 'sidebar-right': 'menu', menu: 'menu', hamburger: 'menu', history: 'history',
  compose: 'compose', close: 'close', 'back-small': 'back', 'back-large': 'back', star: 'star',
  'star-filled': 'star', 'dots-horizontal': 'dots', 'dots-vertical': 'dots',
};

function errorMessage(error) {
  if (error?.name === 'AbortError') return 'Stopped.';
  if (error instanceof ChatKitError) return error.message;
  if (error instanceof TypeError) return 'The server could not be reached.';
  return error?.message || String(error);
}

function formatBytes(n) {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.floor(n / 1024)} KB`;
  return `${Math.floor(n / 1024 / 1024)} MB`;
}

export class ThreadkitChat extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
    this._options = null;
    this._config = null;
    this._client = null;
    this._warned = new Set();
    this._threadId = null;
    this._thread = null;
    this._stream = null;
    this._generation = 0;
    this._built = false;
  }

  /** The options last given to setOptions (read-only). */
  get options() {
    return this._options;
  }

  /** Applies a full set of options (ChatKit.js's `ChatKitOptions`; not merged). */
  setOptions(options) {
    for (const name of unknownOptions(options)) {
      if (this._warned.has(name)) continue;
      this._warned.add(name);
      console.warn(`<threadkit-chat>: unknown option "${name}" is ignored`);
    }
    this._options = options;
    const config = resolveOptions(options);
    this._config = config;
    let reopen = false;
    if (!this._client) {
      this._client = new ChatKitClient(config.api, (name, data) => this._log(name, data));
      reopen = true;
    } else {
      reopen = this._client.url !== config.api.url;
      this._client.configure(config.api);
    }
    if (!this._built) this._build();
    this._apply();
    if (reopen) {
      if (config.initialThread) this._open(config.initialThread);
      else this._showNewThread(false);
    }
    if (!this._readySent) {
      this._readySent = true;
      this._cssReady.then(() => this._emit('chatkit.ready'));
    }
  }

  // --- methods (ChatKit.js names) ---------------------------------------------------------

  /** Opens thread `threadId`, or the new-thread view with null. */
  async setThreadId(threadId) {
    if (threadId) await this._open(threadId);
    else this._showNewThread(true);
  }

  /** Sends a user message, in the open thread or (`newThread`, or none open) a new one. */
  async sendUserMessage({ text = '', content, reply, attachments = [], newThread = false, toolChoice, model } = {}) {
    if (newThread && this._threadId) this._showNewThread(true);
    const inference = {};
    if (toolChoice) inference.tool_choice = toolChoice;
    if (model) inference.model = model;
    const input = {
      content: content ?? [{ type: 'input_text', text }],
      attachments: attachments.map((a) => (typeof a === 'string' ? a : a.id)),
      inference_options: inference,
    };
    if (reply) input.quoted_text = reply;
    this._start.hidden = true;
    this._items.stuck = true;
    if (this._threadId) {
      return this._run('threads.add_user_message', { thread_id: this._threadId, input });
    }
    return this._run('threads.create', { input });
  }

  async focusComposer() {
    this._composer.focus();
  }

  async setComposerValue({ text, reply, attachments, files } = {}) {
    if (text !== undefined) this._composer.setValue(text);
    if (reply !== undefined) this._composer.setReply(reply);
    for (const attachment of attachments || []) this._composer.addUploaded(attachment);
    if (files?.length) this._addFiles([...files]);
  }

  async sendCustomAction(action, itemId) {
    const view = itemId ? this._items.views.get(itemId) : null;
    await this._customAction(action, view?.item?.id ?? itemId ?? null);
  }

  async showHistory() {
    if (!this._history.open) await this._toggleHistory();
  }

  async hideHistory() {
    if (this._history.open) await this._toggleHistory();
  }

  /** Loads the open thread again from the server. */
  async fetchUpdates() {
    if (this._threadId) await this._open(this._threadId, false);
  }

  // --- building and options ---------------------------------------------------------------

  _build() {
    this._built = true;
    const link = h('link', { rel: 'stylesheet', href: STYLESHEET });
    this._cssReady = new Promise((resolve) => {
      link.addEventListener('load', resolve, { once: true });
      link.addEventListener('error', resolve, { once: true });
    });
    this._widgets = new WidgetsBridge(this.shadowRoot, (view) => this._widgetContext(view));

    this._title = h('h2', { class: 'tk-title' });
    this._historyButton = iconButton('history', 'History', () => this._toggleHistory(), { 'aria-expanded': 'false' });
    this._newButton = iconButton('compose', 'New chat', () => this._showNewThread(true));
    this._leftSlot = h('span', { class: 'tk-slot' });
    this._rightSlot = h('span', { class: 'tk-slot' });
    this._header = h('header', { class: 'tk-header' },
      this._leftSlot, this._historyButton, this._title, this._newButton, this._rightSlot);

    this._history = new HistoryPanel({
      client: () => this._client,
      open: (id) => {
        this._toggleHistory(false);
        this._open(id);
      },
      close: () => this._toggleHistory(false),
      currentThreadId: () => this._threadId,
      deleted: (id) => {
        if (id === this._threadId) this._showNewThread(true);
      },
      renamed: (thread) => {
        if (thread.id === this._threadId) this._setThread({ ...this._thread, title: thread.title });
      },
      error: (error) => this._reportError(error),
      options: () => this._config,
    });

    this._greeting = h('h2', { class: 'tk-greeting' });
    this._prompts = h('div', { class: 'tk-prompts' });
    this._start = h('div', { class: 'tk-start' }, this._greeting, this._prompts);
    this._progress = h('div', { class: 'tk-progress', role: 'status', hidden: true });
    this._errorBox = h('div', { class: 'tk-error', role: 'alert', hidden: true });
    this._scroller = h('div', { class: 'tk-scroller', tabindex: '0', role: 'region', 'aria-label': 'Messages' });
    this._items = new ThreadItems({
      client: () => this._client,
      ctx: () => this._itemContext(),
      error: (error) => this._reportError(error),
      log: (name, data) => this._log(name, data),
    }, this._scroller);
    this._scroller.append(this._start, this._items.older, this._items.list, this._progress, this._errorBox);

    this._composer = new Composer({
      onSend: (message) => this.sendUserMessage(message),
      onStop: () => this._stop(),
      onFiles: (files) => this._addFiles(files),
      onRemove: (entry) => this._removeAttachment(entry),
    });
    this._disclaimer = h('div', { class: 'tk-disclaimer', hidden: true });
    this._main = h('section', { class: 'tk-main' }, this._scroller, this._composer.el, this._disclaimer);
    this._toasts = h('div', { class: 'tk-toasts', 'aria-live': 'polite' });
    this._root = h('div', { class: 'tk-root' },
      this._header, h('div', { class: 'tk-body' }, this._history.el, this._main), this._toasts);
    this._root.addEventListener('keydown', (event) => {
      // Escape stops the answer from anywhere in the chat (the composer handles its own).
      if (event.key === 'Escape' && this._stream && !event.defaultPrevented) this._stop();
    });
    this.shadowRoot.replaceChildren(link, this._root);
  }

  _apply() {
    const c = this._config;
    const t = c.theme;
    this.dataset.colorScheme = t.colorScheme;
    this._root.dataset.radius = t.radius;
    this._root.dataset.density = t.density;
    const vars = {
      '--tk-accent': t.accent, '--tk-font-size': t.baseSize ? `${t.baseSize}px` : null,
      '--tk-font': t.fontFamily, '--tk-font-mono': t.fontFamilyMono,
      '--tk-bg': t.surface?.background, '--tk-fg': t.surface?.foreground,
    };
    for (const [name, value] of Object.entries(vars)) {
      if (value) this.style.setProperty(name, value);
      else this.style.removeProperty(name);
    }
    this._main.setAttribute('aria-label', c.frameTitle);

    this._header.hidden = !c.header.enabled;
    this._historyButton.hidden = !c.history.enabled;
    if (!c.history.enabled && this._history.open) this._toggleHistory(false);
    for (const [slot, action] of [[this._leftSlot, c.header.leftAction], [this._rightSlot, c.header.rightAction]]) {
      slot.replaceChildren(action?.onClick
        ? iconButton(HEADER_ICONS[action.icon] || 'dots', action.label || action.icon || 'Action', () => action.onClick())
        : '');
    }
    this._renderTitle();

    this._greeting.textContent = c.startScreen.greeting;
    this._prompts.replaceChildren(...c.startScreen.prompts.map((p) =>
      h('button', {
        type: 'button',
        class: 'tk-prompt',
        onclick: () => this.sendUserMessage(typeof p.prompt === 'string' ? { text: p.prompt } : { content: p.prompt }),
      }, p.label ?? String(p.prompt))));

    this._composer.configure(c);
    this._disclaimer.hidden = !c.disclaimer;
    if (c.disclaimer) {
      this._disclaimer.classList.toggle('tk-high-contrast', c.disclaimer.highContrast);
      this._disclaimer.replaceChildren(renderMarkdown(c.disclaimer.text));
    }
  }

  _renderTitle() {
    const { header } = this._config;
    this._title.hidden = !header.titleEnabled;
    this._title.textContent = header.titleText ?? (this._thread ? threadTitle(this._thread) : 'New chat');
  }

  // --- contexts for the item views and widgets --------------------------------------------

  _allowImage = (src) => isImageAllowed(src, this._thread?.allowed_image_domains || []);

  _itemContext() {
    const c = this._config;
    return {
      allowImage: this._allowImage,
      isLinkAllowed,
      markdown: (text) => renderMarkdown(text, this._allowImage),
      feedback: c.feedback,
      retry: c.retry,
      onFeedback: (view, kind) => this._feedback(view, kind),
      onRetry: (view) => this._retryFrom(this._items.userMessageBefore(view)),
      onStructuredInput: (view, submission) => this._run('threads.add_structured_input', {
        thread_id: this._threadId, item_id: view.item.id, input: submission,
      }),
      widgets: this._widgets,
    };
  }

  _widgetContext(view) {
    return {
      itemId: view.item.id,
      dispatch: (action) => this._widgetAction(action, view),
      markdown: (text) => h('div', { class: 'tk-md' }, renderMarkdown(text, this._allowImage)),
      isImageAllowed: this._allowImage,
    };
  }

  // --- threads ----------------------------------------------------------------------------

  _setThread(thread) {
    this._thread = thread;
    const status = thread?.status?.type;
    if (status === 'locked' || status === 'closed') {
      const reason = thread.status.reason;
      this._composer.setDisabled(reason || (status === 'locked' ? 'This chat is locked.' : 'This chat is closed.'));
    } else {
      this._composer.setDisabled(null);
    }
    this._renderTitle();
    if (thread) this._history.upsert(thread);
  }

  _changeThread(threadId) {
    if (this._threadId === threadId) return;
    this._threadId = threadId;
    this._emit('chatkit.thread.change', { threadId });
  }

  _showNewThread(emit) {
    this._abortStream();
    this._generation += 1;
    this._items.reset(null);
    this._thread = null;
    this._setThread(null);
    this._clearStatus();
    this._start.hidden = false;
    if (emit) this._changeThread(null);
    else this._threadId = null;
  }

  async _open(threadId, emit = true) {
    this._abortStream();
    const generation = ++this._generation;
    if (emit) this._changeThread(threadId);
    else this._threadId = threadId;
    this._items.reset(threadId);
    this._thread = null;
    this._clearStatus();
    this._start.hidden = true;
    this._emit('chatkit.thread.load.start', { threadId });
    try {
      const thread = await this._client.request('threads.get_by_id', { thread_id: threadId });
      if (generation !== this._generation) return;
      this._setThread(thread);
      await this._items.open(threadId);
    } catch (error) {
      if (generation === this._generation) this._reportError(error, true);
    } finally {
      if (generation === this._generation) this._emit('chatkit.thread.load.end', { threadId });
    }
  }

  async _toggleHistory(force) {
    const open = force ?? !this._history.open;
    if (open === this._history.open) return;
    this._historyButton.setAttribute('aria-expanded', String(open));
    this._root.classList.toggle('tk-history-open', open);
    if (open) {
      this._emit('chatkit.history.open');
      await this._history.show();
    } else {
      this._history.hide();
      this._emit('chatkit.history.close');
    }
  }

  // --- streaming --------------------------------------------------------------------------

  /**
   * Runs one streaming request and applies its events. Resolves to false when the
   * request was refused before anything streamed (so the composer keeps its text).
   */
  async _run(type, params) {
    if (this._stream) {
      this._toast({ level: 'warning', message: 'Wait for the answer to finish, or stop it.' });
      return false;
    }
    const run = { controller: new AbortController(), allowCancel: false, events: 0, pendingTool: null, generation: this._generation };
    this._stream = run;
    this._clearStatus();
    this._composer.setStreaming(true, false);
    this._emit('chatkit.response.start');
    let ok = true;
    try {
      await this._client.stream(type, params, {
        signal: run.controller.signal,
        onEvent: (event) => {
          run.events += 1;
          if (run.generation === this._generation) this._onEvent(event, run);
        },
      });
    } catch (error) {
      if (!run.controller.signal.aborted) {
        ok = run.events > 0;
        this._reportError(error, true);
      }
    } finally {
      if (run.generation === this._generation) this._items.finishAll();
      this._clearProgress();
      this._stream = null;
      this._composer.setStreaming(false);
      this._emit('chatkit.response.end');
    }
    if (run.pendingTool && !run.controller.signal.aborted && run.generation === this._generation) {
      await this._clientTool(run.pendingTool);
    }
    return ok;
  }

  _onEvent(event, run) {
    switch (event.type) {
      case 'thread.created':
        this._setThread(event.thread);
        this._changeThread(event.thread.id);
        this._items.threadId = event.thread.id;
        break;
      case 'thread.updated':
        this._setThread({ ...this._thread, ...event.thread });
        break;
      case 'thread.item.added':
        this._clearProgress();
        this._items.add(event.item, true);
        break;
      case 'thread.item.updated':
        this._items.update(event.item_id, event.update);
        break;
      case 'thread.item.done':
        this._clearProgress();
        this._items.done(event.item);
        if (event.item.type === 'client_tool_call' && event.item.status === 'pending') run.pendingTool = event.item;
        break;
      case 'thread.item.removed':
        this._items.remove(event.item_id);
        break;
      case 'thread.item.replaced':
        this._items.replace(event.item);
        break;
      case 'stream_options':
        run.allowCancel = !!event.stream_options?.allow_cancel;
        this._composer.setStreaming(true, run.allowCancel);
        break;
      case 'progress_update':
        this._showProgress(event.text);
        break;
      case 'notice':
        this._toast(event);
        break;
      case 'error':
        this._showError(event.message || 'Something went wrong.', event.allow_retry);
        this._emit('chatkit.error', { error: new ChatKitError(event.message || 'Something went wrong.', { code: event.code }) });
        break;
      case 'client_effect':
        this._emit('chatkit.effect', { name: event.name, data: event.data || {} });
        break;
      default:
        this._log('stream.unknown_event', { type: event.type });
    }
  }

  _stop() {
    if (this._stream?.allowCancel) {
      this._log('stream.stop', {});
      this._stream.controller.abort();
    }
  }

  /** Ends the stream without asking (another thread is opened). */
  _abortStream() {
    this._stream?.controller.abort();
  }

  async _clientTool(item) {
    const handler = this._config.onClientTool;
    if (!handler) {
      this._reportError(new ChatKitError(`The assistant called the client tool "${item.name}", but no onClientTool is set.`), true);
      return;
    }
    let result;
    try {
      result = await handler({ name: item.name, params: item.arguments || {} });
    } catch (error) {
      this._emit('chatkit.error', { error });
      result = { error: errorMessage(error) };
    }
    // The server marks the call completed without an event saying so.
    const view = this._items.views.get(item.id);
    view?.update({ ...view.item, status: 'completed', output: result ?? {} }, true);
    await this._run('threads.add_client_tool_output', { thread_id: this._threadId, result: result ?? {} });
  }

  async _retryFrom(userView) {
    if (!userView || !this._threadId || this._stream) return;
    this._items.removeAfter(userView);
    await this._run('threads.retry_after_item', { thread_id: this._threadId, item_id: userView.item.id });
  }

  async _feedback(view, kind) {
    try {
      await this._client.request('items.feedback', { thread_id: this._threadId, item_ids: [view.item.id], kind });
      view.setFeedback(kind);
      this._log('feedback', { item_id: view.item.id, kind });
    } catch (error) {
      this._reportError(error);
    }
  }

  async _widgetAction(action, view) {
    const { type, payload } = action;
    if (action.handler === 'client') {
      const onAction = this._config.onAction;
      if (onAction) await onAction({ type, payload }, { id: view.item.id, widget: view.item.widget });
      else console.warn(`<threadkit-chat>: widget action "${type}" is for the client, but widgets.onAction is not set`);
      return;
    }
    if (action.streaming === false) {
      try {
        const answer = await this._client.request('threads.sync_custom_action', {
          thread_id: this._threadId, item_id: view.item.id, action: { type, payload },
        });
        if (answer?.updated_item) this._items.replace(answer.updated_item);
      } catch (error) {
        this._reportError(error);
      }
      return;
    }
    await this._customAction({ type, payload }, view.item.id);
  }

  async _customAction({ type, payload }, itemId) {
    if (!this._threadId) return;
    const params = { thread_id: this._threadId, action: { type, payload } };
    if (itemId) params.item_id = itemId;
    await this._run('threads.custom_action', params);
  }

  // --- attachments ------------------------------------------------------------------------

  _addFiles(files) {
    const limits = this._config.composer.attachments;
    if (!limits.enabled) return;
    for (const file of files) {
      if (this._composer.entries.length >= limits.maxCount) {
        this._toast({ level: 'warning', message: `At most ${limits.maxCount} attachments can be sent at once.` });
        break;
      }
      if (!accepted(limits.accept, file)) {
        this._toast({ level: 'warning', message: `${file.name}: this type of file cannot be attached.` });
        continue;
      }
      const max = maxSizeFor(limits.maxSize, file.type);
      if (file.size > max) {
        this._toast({ level: 'warning', message: `${file.name} is larger than ${formatBytes(max)}.` });
        continue;
      }
      const entry = this._composer.addEntry(file);
      entry.controller = new AbortController();
      uploadFile(this._client, file, (progress) => this._composer.updateEntry(entry, { progress }), entry.controller.signal)
        .then((attachment) => this._composer.updateEntry(entry, { status: 'done', progress: 1, attachment }))
        .catch((error) => {
          if (entry.controller.signal.aborted) return;
          this._composer.updateEntry(entry, { status: 'error', error: errorMessage(error), attachment: error.attachment || null });
          this._emit('chatkit.error', { error });
        });
    }
  }

  _removeAttachment(entry) {
    entry.controller?.abort();
    this._composer.removeEntry(entry);
    const id = entry.attachment?.id;
    if (id && entry.file) {
      this._client.request('attachments.delete', { attachment_id: id })
        .catch((error) => this._log('attachments.delete_failed', { id, message: errorMessage(error) }));
    }
  }

  // --- status, errors, notices ------------------------------------------------------------

  _showProgress(text) {
    this._progress.hidden = false;
    this._progress.replaceChildren(h('span', { class: 'tk-spinner', 'aria-hidden': 'true' }), h('span', {}, text));
  }

  _clearProgress() {
    this._progress.hidden = true;
    this._progress.replaceChildren();
  }

  _showError(message, retryable) {
    const userView = retryable ? this._items.userMessageBefore() : null;
    this._errorBox.hidden = false;
    this._errorBox.replaceChildren(
      h('span', { class: 'tk-error-text' }, message),
      userView ? h('button', { type: 'button', class: 'tk-button', onclick: () => this._retryFrom(userView) }, icon('retry'), 'Retry') : '',
    );
  }

  _clearStatus() {
    this._clearProgress();
    this._errorBox.hidden = true;
    this._errorBox.replaceChildren();
  }

  _reportError(error, shown = false) {
    if (shown) this._showError(errorMessage(error), false);
    else this._toast({ level: 'danger', message: errorMessage(error) });
    this._emit('chatkit.error', { error });
  }

  _toast({ level = 'info', title, message }) {
    const toast = h('div', { class: `tk-toast tk-toast-${level}`, role: level === 'danger' ? 'alert' : 'status' },
      h('div', { class: 'tk-toast-body' }, title ? h('strong', {}, title) : '', h('div', { class: 'tk-md' }, renderMarkdown(message || ''))),
      iconButton('close', 'Dismiss', () => toast.remove()));
    this._toasts.append(toast);
    setTimeout(() => toast.remove(), TOAST_MS);
  }

  // --- events -----------------------------------------------------------------------------

  _emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  _log(name, data = {}) {
    this._emit('chatkit.log', { name, data });
  }
}

if (!customElements.get('threadkit-chat')) customElements.define('threadkit-chat', ThreadkitChat);
