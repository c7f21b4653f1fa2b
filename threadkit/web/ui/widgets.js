// The widget renderer of <threadkit-chat>: every component of openai-chatkit's
// `chatkit.widgets` (roots Card, ListView, Basic; Text, Title, Caption, Markdown,
// Badge, Box, Row, Col, Form, Divider, Icon, Image, Button, Spacer, Select,
// DatePicker, Checkbox, Input, Textarea, Label, RadioGroup, Transition, Chart,
// ListViewItem) built with DOM APIs, styled by widgets.css.
//
//   renderWidget(widget, ctx) -> HTMLElement
//   applyWidgetUpdate(widget, update) -> widget      (pure)
//   rerenderWidget(element, widget, ctx) -> HTMLElement (the same element, patched)
//
// ctx = {itemId, dispatch(action, element) -> Promise, markdown(text) -> Node,
//        isImageAllowed(src) -> boolean}. Actions reach ctx.dispatch as
// {type, payload, handler, loadingBehavior, streaming} with the enclosing form's
// field values (and a changed field's own value) merged into the payload.

import './widgets/content.js';
import './widgets/layout.js';
import './widgets/chart.js';
import { linkLabels } from './widgets/controls.js';
import { patch, renderNode, withCtx } from './widgets/core.js';
import { el } from './widgets/dom.js';

export { applyWidgetUpdate } from './widgets/update.js';

/** After (re)rendering: labels linked, autofocus and textarea sizing once attached. */
function finish(root) {
  linkLabels(root);
  requestAnimationFrame(() => {
    if (!root.isConnected) return;
    for (const f of root.querySelectorAll('.tkw-textarea')) f.__tkwMounted?.();
    const first = root.querySelector('[data-tkw-autofocus]');
    for (const f of root.querySelectorAll('[data-tkw-autofocus]')) delete f.dataset.tkwAutofocus;
    first?.focus({ preventScroll: true });
  });
}

/** The root element of a widget item's widget (Card, ListView or Basic). */
export function renderWidget(widget, ctx) {
  const root = el('div', 'tkw-root');
  root.__tkw = { ctx };
  withCtx(ctx, () => {
    const node = renderNode(widget);
    if (node) root.append(node);
  });
  finish(root);
  return root;
}

// what the user changed in fields, to carry into fields a re-render had to rebuild
const fieldKey = (f) => (f.type === 'radio' ? `${f.dataset.tkwField}\u0000${f.value}` : f.dataset.tkwField);
const read = (f) => (f.type === 'checkbox' || f.type === 'radio' ? f.checked : f.value);

function edited(root) {
  const found = new Map();
  for (const f of root.querySelectorAll('[data-tkw-field]')) {
    if (f.__tkwDirty) found.set(fieldKey(f), { f, value: read(f), initial: f.__tkwDefault });
  }
  return found;
}

function carryOver(root, saved) {
  for (const f of root.querySelectorAll('[data-tkw-field]')) {
    const old = saved.get(fieldKey(f));
    if (!old || old.f === f || old.initial !== f.__tkwDefault) continue;
    if (f.type === 'checkbox' || f.type === 'radio') f.checked = old.value;
    else f.value = old.value;
    f.__tkwDirty = true;
  }
}

/** What to focus again when the focused element was rebuilt. */
function focusKey(active) {
  if (active?.dataset?.tkwField !== undefined) return `[data-tkw-field="${CSS.escape(active.dataset.tkwField)}"]`;
  const id = active?.closest?.('[data-tkw-id]')?.dataset.tkwId;
  return id ? `[data-tkw-id="${CSS.escape(id)}"]` : null;
}

/** `element` (from renderWidget) updated in place to show `widget`. */
export function rerenderWidget(element, widget, ctx) {
  if (!element?.__tkw) return renderWidget(widget, ctx);
  if (ctx) element.__tkw.ctx = ctx;
  const host = element.getRootNode();
  const active = host.activeElement && element.contains(host.activeElement) ? host.activeElement : null;
  const key = active && focusKey(active);
  const saved = edited(element);
  withCtx(element.__tkw.ctx, () => {
    const current = element.firstElementChild;
    const next = current ? patch(current, widget) : renderNode(widget);
    if (next !== current) {
      if (current) current.remove();
      if (next) element.append(next);
    }
  });
  carryOver(element, saved);
  linkLabels(element);
  if (active && !active.isConnected && key) {
    const again = element.querySelector(key);
    if (again && typeof again.focus === 'function') again.focus({ preventScroll: true });
  }
  return element;
}
