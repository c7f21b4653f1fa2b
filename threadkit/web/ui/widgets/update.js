// applyWidgetUpdate: the three `thread.item.updated` updates of a widget item,
// applied to its widget JSON without changing the input (the path to the changed
// component is copied, everything else is shared).

import { isObject } from './dom.js';

/** `root` with the component of id `id` replaced by `change(component)`. */
function replaceById(node, id, change) {
  if (!isObject(node)) return node;
  if (node.id === id) return change(node);
  const kids = node.children;
  if (Array.isArray(kids)) {
    let copy = null;
    kids.forEach((kid, i) => {
      const next = replaceById(kid, id, change);
      if (next !== kid) (copy ||= kids.slice())[i] = next;
    });
    return copy ? { ...node, children: copy } : node;
  }
  if (isObject(kids)) {
    const next = replaceById(kids, id, change);
    return next === kids ? node : { ...node, children: next };
  }
  return node;
}

/**
 * `widget.root.updated`: the new root; `widget.component.updated`: the component
 * with `component_id` replaced; `widget.streaming_text.value_delta`: the delta
 * appended to that Text/Markdown's `value` (`streaming` true until `done`).
 * An update for an unknown component (or of another kind) leaves the widget as it is.
 */
export function applyWidgetUpdate(widget, update) {
  switch (update?.type) {
    case 'widget.root.updated':
      return update.widget;
    case 'widget.component.updated':
      return replaceById(widget, update.component_id, () => update.component);
    case 'widget.streaming_text.value_delta':
      return replaceById(widget, update.component_id, (c) => {
        const next = { ...c, value: (typeof c.value === 'string' ? c.value : '') + (update.delta || '') };
        // openai-chatkit marks every delta done when the component does not stream
        if (!update.done) next.streaming = true;
        else if ('streaming' in c) next.streaming = false;
        return next;
      });
    default:
      return widget;
  }
}
