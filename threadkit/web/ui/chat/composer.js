// The composer: a textarea named "Message" (Enter sends, Shift+Enter is a new line,
// Escape stops the answer), Send and Stop buttons, the quoted text being replied to,
// and the attachments being uploaded, with their progress and image previews.

import { h, icon, iconButton } from './dom.js';
import { acceptAttribute } from './options.js';

const MAX_HEIGHT_PX = 200;

export class Composer {
  /**
   * handlers: onSend({text, reply, attachments}) -> bool (false: keep the text),
   * onStop(), onFiles(files), onRemove(entry).
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.streaming = false;
    this.allowCancel = false;
    this.disabledReason = null;
    this.reply = null;
    this.entries = [];

    this.textarea = h('textarea', {
      class: 'tk-input',
      rows: '1',
      'aria-label': 'Message',
      onkeydown: (e) => this.keydown(e),
      oninput: () => this.changed(),
    });
    this.fileInput = h('input', { type: 'file', multiple: true, hidden: true, tabindex: '-1', 'aria-hidden': 'true', onchange: () => this.picked() });
    this.attachButton = iconButton('attach', 'Add attachment', () => this.fileInput.click(), { class: 'tk-icon-button tk-attach' });
    this.sendButton = h('button', { type: 'submit', class: 'tk-send', 'aria-label': 'Send', title: 'Send' }, icon('send'));
    this.stopButton = h('button', { type: 'button', class: 'tk-stop', 'aria-label': 'Stop', title: 'Stop', hidden: true, onclick: () => this.handlers.onStop() }, icon('stop'));
    this.modelSelect = h('select', { class: 'tk-model', 'aria-label': 'Model', hidden: true });
    this.toolSelect = h('select', { class: 'tk-model', 'aria-label': 'Tool', hidden: true, onchange: () => this.toolChanged() });
    this.replyBox = h('div', { class: 'tk-reply', hidden: true });
    this.list = h('ul', { class: 'tk-pending', 'aria-label': 'Attachments', hidden: true });
    this.notice = h('p', { class: 'tk-composer-notice', hidden: true });
    this.el = h(
      'form',
      { class: 'tk-composer', onsubmit: (e) => { e.preventDefault(); this.submit(); } },
      this.notice,
      this.replyBox,
      this.list,
      h('div', { class: 'tk-composer-row' },
        this.attachButton, this.fileInput, this.textarea, this.toolSelect, this.modelSelect, this.sendButton, this.stopButton),
    );
    this.refresh();
  }

  configure(options) {
    this.placeholder = options.composer.placeholder;
    this.textarea.placeholder = this.placeholder;
    const attachments = options.composer.attachments;
    this.attachmentsEnabled = attachments.enabled;
    this.attachButton.hidden = !attachments.enabled;
    const accept = acceptAttribute(attachments.accept);
    if (accept) this.fileInput.setAttribute('accept', accept);
    else this.fileInput.removeAttribute('accept');
    const models = options.composer.models;
    this.modelSelect.hidden = models.length === 0;
    const current = this.modelSelect.value;
    this.modelSelect.replaceChildren(...models.map((m) =>
      h('option', { value: m.id, disabled: !!m.disabled, selected: current ? m.id === current : !!m.default }, m.label)));
    this.configureTools(options.composer.tools);
    this.refresh();
  }

  configureTools(tools) {
    this.tools = tools;
    this.toolSelect.hidden = tools.length === 0;
    const current = this.toolSelect.value;
    this.toolSelect.replaceChildren(
      h('option', { value: '' }, 'No tool'),
      ...tools.map((t) => h('option', { value: t.id, selected: t.id === current }, t.shortLabel || t.label)));
    this.toolChanged();
  }

  toolChanged() {
    const tool = this.tool;
    this.textarea.placeholder = tool?.placeholderOverride || this.placeholder;
  }

  /** The tool chosen for the next message, or null. */
  get tool() {
    return (this.tools || []).find((t) => t.id === this.toolSelect.value) || null;
  }

  get model() {
    return this.modelSelect.hidden ? null : this.modelSelect.value || null;
  }

  get value() {
    return this.textarea.value;
  }

  setValue(text) {
    this.textarea.value = text ?? '';
    this.changed();
  }

  setReply(text) {
    this.reply = text || null;
    this.replyBox.hidden = !this.reply;
    if (this.reply) {
      this.replyBox.replaceChildren(
        h('span', { class: 'tk-reply-text' }, this.reply),
        iconButton('close', 'Remove quote', () => this.setReply(null)),
      );
    }
  }

  focus() {
    this.textarea.focus();
  }

  setStreaming(streaming, allowCancel = false) {
    this.streaming = streaming;
    this.allowCancel = allowCancel;
    this.refresh();
  }

  /** `reason`: why nothing can be sent (a locked or closed thread), or null. */
  setDisabled(reason) {
    this.disabledReason = reason || null;
    this.notice.hidden = !this.disabledReason;
    this.notice.textContent = this.disabledReason || '';
    this.textarea.disabled = !!this.disabledReason;
    this.refresh();
  }

  changed() {
    const ta = this.textarea;
    ta.style.height = 'auto';
    ta.style.height = `${Math.min(ta.scrollHeight, MAX_HEIGHT_PX)}px`;
    this.refresh();
  }

  uploading() {
    return this.entries.some((e) => e.status === 'uploading');
  }

  refresh() {
    const hasContent = this.textarea.value.trim() !== '' || this.entries.some((e) => e.status === 'done');
    this.sendButton.hidden = this.streaming;
    this.stopButton.hidden = !this.streaming;
    this.stopButton.disabled = !this.allowCancel;
    this.sendButton.disabled = !!this.disabledReason || !hasContent || this.uploading();
    this.attachButton.disabled = !!this.disabledReason;
  }

  keydown(event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!this.streaming) this.submit();
    } else if (event.key === 'Escape' && this.streaming) {
      event.preventDefault();
      this.handlers.onStop();
    }
  }

  async submit() {
    if (this.streaming || this.disabledReason || this.uploading()) return;
    const text = this.textarea.value;
    const ready = this.entries.filter((e) => e.status === 'done');
    if (!text.trim() && !ready.length) return;
    const tool = this.tool;
    const message = {
      text,
      reply: this.reply,
      attachments: ready.map((e) => e.attachment),
      model: this.model,
      toolChoice: tool ? { id: tool.id } : null,
    };
    if (tool && !tool.persistent) {
      this.toolSelect.value = '';
      this.toolChanged();
    }
    const previous = { text, reply: this.reply, entries: this.entries };
    this.setValue('');
    this.setReply(null);
    this.entries = this.entries.filter((e) => e.status === 'uploading');
    this.renderList();
    const sent = await this.handlers.onSend(message);
    if (sent === false && !this.textarea.value) {
      // refused before anything was stored: give the user their message back
      this.setValue(previous.text);
      this.setReply(previous.reply);
      this.entries = previous.entries;
      this.renderList();
    } else {
      for (const entry of ready) if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
    }
  }

  picked() {
    const files = [...this.fileInput.files];
    this.fileInput.value = '';
    if (files.length) this.handlers.onFiles(files);
  }

  // --- attachments ------------------------------------------------------------------------

  /** A new attachment chip for `file`; returns the entry the caller updates. */
  addEntry(file) {
    const entry = {
      file,
      name: file.name,
      status: 'uploading',
      progress: 0,
      attachment: null,
      error: null,
      previewUrl: file.type.startsWith('image/') ? URL.createObjectURL(file) : null,
    };
    this.entries.push(entry);
    this.renderList();
    return entry;
  }

  /** Adds an attachment uploaded elsewhere (setComposerValue's `attachments`). */
  addUploaded(attachment) {
    this.entries.push({ name: attachment.name, status: 'done', progress: 1, attachment, previewUrl: null });
    this.renderList();
  }

  updateEntry(entry, changes) {
    Object.assign(entry, changes);
    if (entry.bar && changes.progress !== undefined && entry.status === 'uploading') {
      entry.bar.value = entry.progress;
    } else {
      this.renderList();
    }
  }

  removeEntry(entry) {
    this.entries = this.entries.filter((e) => e !== entry);
    if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
    this.renderList();
  }

  clearEntries() {
    for (const entry of this.entries) if (entry.previewUrl) URL.revokeObjectURL(entry.previewUrl);
    this.entries = [];
    this.renderList();
  }

  renderList() {
    this.list.hidden = this.entries.length === 0;
    this.list.replaceChildren(...this.entries.map((entry) => {
      const preview = entry.previewUrl
        ? h('img', { class: 'tk-preview', src: entry.previewUrl, alt: `Preview of ${entry.name}` })
        : h('span', { class: 'tk-file-icon' }, icon('file'));
      entry.bar = null;
      let state = null;
      if (entry.status === 'uploading') {
        entry.bar = h('progress', { max: '1', 'aria-label': `Uploading ${entry.name}` });
        entry.bar.value = entry.progress;
        state = entry.bar;
      } else if (entry.status === 'error') {
        state = h('span', { class: 'tk-error-text' }, entry.error || 'Upload failed');
      }
      return h('li', { class: `tk-chip tk-chip-${entry.status}`, dataset: { attachmentId: entry.attachment?.id || '' } },
        preview,
        h('span', { class: 'tk-chip-name' }, entry.name),
        state,
        iconButton('close', `Remove ${entry.name}`, () => this.handlers.onRemove(entry)));
    }));
    this.refresh();
  }
}
