// A thread's items, read-only, drawn by the chat UI's own renderer (chat/items.js,
// markdown sanitized by chat/markdown.js) in a shadow root holding the chat's
// stylesheet; the feedback marks are shown on the items they refer to.

import { h, icon } from '/ui/chat/dom.js';
import { createView } from '/ui/chat/items.js';
import { isImageAllowed, isLinkAllowed, renderMarkdown } from '/ui/chat/markdown.js';
import { WidgetsBridge } from '/ui/chat/widgets-bridge.js';

/**
 * A REST item in the protocol's shape, for the messages and widgets (null for the
 * rest): the console reads REST items only for a user whom no header can name.
 */
export function protocolShape(item) {
  const head = { id: item.id, thread_id: item.thread_id, created_at: new Date(item.created_at * 1000).toISOString() };
  switch (item.type) {
    case 'chatkit.user_message':
      return { ...head, type: 'user_message', content: item.content.filter((p) => p.type === 'input_text'), attachments: [] };
    case 'chatkit.assistant_message':
      return { ...head, type: 'assistant_message', content: item.content.map((p) => ({ annotations: [], ...p })) };
    case 'chatkit.widget':
      try {
        return { ...head, type: 'widget', widget: JSON.parse(item.widget) };
      } catch {
        return null;
      }
    default:
      return null;
  }
}

const MARK_LABELS = { positive: 'Marked good', negative: 'Marked bad' };

export class ItemsView {
  /** host: the element whose shadow root shows the items. */
  constructor(host) {
    this.host = host;
    const root = host.attachShadow({ mode: 'open' });
    this.list = h('div', { class: 'tk-items', role: 'list', 'aria-label': 'Items' });
    root.append(
      h('link', { rel: 'stylesheet', href: '/ui/chat.css' }),
      h('link', { rel: 'stylesheet', href: '/console/items.css' }),
      h('div', { class: 'tk-root console-items' }, this.list),
    );
    this.allowedDomains = [];
    const allowImage = (src) => isImageAllowed(src, this.allowedDomains);
    this.widgets = new WidgetsBridge(root, (view) => ({
      itemId: view.item.id,
      dispatch: () => {}, // read-only: a widget's actions do nothing here
      markdown: (text) => h('div', { class: 'tk-md' }, renderMarkdown(text, allowImage)),
      isImageAllowed: allowImage,
    }));
    this.ctx = {
      allowImage,
      isLinkAllowed,
      markdown: (text) => renderMarkdown(text, allowImage),
      feedback: false,
      retry: false,
      onFeedback: () => {},
      onRetry: () => {},
      onStructuredInput: () => {},
      widgets: this.widgets,
    };
    this.views = new Map();
  }

  setScheme(scheme) {
    this.host.dataset.colorScheme = scheme;
  }

  clear(thread = null) {
    this.allowedDomains = thread?.allowed_image_domains || [];
    this.views.clear();
    this.list.replaceChildren();
  }

  /** Adds protocol-shaped items after those shown. */
  add(items) {
    for (const item of items) {
      if (this.views.has(item.id)) continue;
      const view = createView(item, this.ctx);
      if (!view) continue;
      view.el.setAttribute('role', 'listitem');
      this.views.set(item.id, view);
      this.list.append(view.el);
    }
  }

  /** Shows `marks` (chatkit.feedback objects) on their items, replacing earlier ones. */
  mark(marks) {
    for (const old of this.list.querySelectorAll('.console-marks')) old.remove();
    const byItem = new Map();
    for (const mark of marks) {
      if (!byItem.has(mark.item_id)) byItem.set(mark.item_id, []);
      byItem.get(mark.item_id).push(mark);
    }
    for (const [itemId, found] of byItem) {
      const view = this.views.get(itemId);
      if (!view) continue;
      view.el.append(h('ul', { class: 'console-marks', 'aria-label': 'Feedback' }, found.map((mark) =>
        h('li', { class: 'console-mark', dataset: { feedback: mark.kind, user: mark.user } },
          icon(mark.kind === 'positive' ? 'up' : 'down'),
          h('span', {}, `${MARK_LABELS[mark.kind] || mark.kind} by ${mark.user}`)))));
    }
  }

  get count() {
    return this.views.size;
  }
}
