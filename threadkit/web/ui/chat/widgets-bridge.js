// Widget items go to ../widgets.js (renderWidget, applyWidgetUpdate, rerenderWidget),
// loaded with its stylesheet the first time a thread shows a widget. Without that
// module a widget is shown as a plain box with its copy text.

import { h } from './dom.js';

let modulePromise = null;

function loadModule() {
  modulePromise ||= import('../widgets.js').catch(() => null);
  return modulePromise;
}

function loadStylesheet(root) {
  if (root.querySelector('link[data-widgets]')) return root.__tkWidgetsCss;
  const link = h('link', { rel: 'stylesheet', href: new URL('../widgets.css', import.meta.url).href, dataset: { widgets: '' } });
  root.__tkWidgetsCss = new Promise((resolve) => {
    link.addEventListener('load', resolve, { once: true });
    link.addEventListener('error', resolve, { once: true });
  });
  root.prepend(link);
  return root.__tkWidgetsCss;
}

function fallback(item) {
  return h('div', { class: 'tk-widget-fallback' }, h('strong', {}, 'widget'), item.copy_text ? h('p', {}, item.copy_text) : '');
}

/**
 * The widget side of the component. `root`: its shadow root; `context(view)`: the
 * widgets.js ctx of a widget item's view ({itemId, dispatch, markdown, isImageAllowed}).
 */
export class WidgetsBridge {
  constructor(root, context) {
    this.root = root;
    this.context = context;
  }

  async mount(view) {
    const module = await loadModule();
    if (!module?.renderWidget) {
      view.el.replaceChildren(fallback(view.item));
      return;
    }
    await loadStylesheet(this.root);
    view.widgetEl = module.renderWidget(view.item.widget, this.context(view));
    view.el.replaceChildren(view.widgetEl);
  }

  async rerender(view) {
    const module = await loadModule();
    if (!module?.rerenderWidget || !view.widgetEl) {
      view.el.replaceChildren(fallback(view.item));
      return;
    }
    const next = module.rerenderWidget(view.widgetEl, view.item.widget, this.context(view));
    if (next && next !== view.widgetEl) {
      view.widgetEl.replaceWith(next);
      view.widgetEl = next;
    }
  }

  async applyUpdate(view, update) {
    const module = await loadModule();
    if (!module?.applyWidgetUpdate) return;
    view.item = { ...view.item, widget: module.applyWidgetUpdate(view.item.widget, update) };
    await this.rerender(view);
  }
}
