// The renderer's core: components register a render function (and optionally an
// in-place updater) by type; renderNode builds an element for a component JSON and
// patch() brings an element rendered earlier up to date with a new JSON, reusing
// every element whose component did not change, so focus, selections and what the
// user typed survive server updates (a streamed Text only changes its text node).

import { el, isObject, same } from './dom.js';

const RENDER = Object.create(null);
const UPDATE = Object.create(null);
let current = null;

/** `renderers`: {Type: (node) => HTMLElement}; `updaters`: {Type: (el, old, node) => bool}. */
export function register(renderers, updaters = {}) {
  Object.assign(RENDER, renderers);
  Object.assign(UPDATE, updaters);
}

/** The ctx of the widget being rendered (renderWidget/rerenderWidget set it). */
export const ctx = () => current;

export function withCtx(value, fn) {
  const previous = current;
  current = value;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

function unknown(node) {
  // A component this renderer does not know (DynamicWidgetComponent allows any):
  // its children, if any, in a column.
  const box = el('div', 'tkw-col tkw-unknown');
  mountKids(box, box, node.children);
  return box;
}

/** The element of one component (null for what is not a component). */
export function renderNode(node) {
  if (!isObject(node) || typeof node.type !== 'string') return null;
  const elm = (RENDER[node.type] || unknown)(node);
  elm.__tkwNode = node;
  elm.dataset.widget = node.type;
  if (node.id) elm.dataset.tkwId = String(node.id);
  return elm;
}

const keyOf = (node) => (isObject(node) ? node.key ?? node.id ?? null : null);
export const childList = (kids) => (Array.isArray(kids) ? kids : isObject(kids) ? [kids] : []);

/** Render `kids` into `host`; `owner` (the component's element) remembers them for patch(). */
export function mountKids(owner, host, kids) {
  owner.__tkwHost = host;
  owner.__tkwKids = childList(kids).map(renderNode).filter(Boolean);
  host.append(...owner.__tkwKids);
}

function patchKids(owner, kids) {
  const host = owner.__tkwHost;
  const old = owner.__tkwKids || [];
  const byKey = new Map();
  for (const e of old) if (keyOf(e.__tkwNode) !== null) byKey.set(keyOf(e.__tkwNode), e);
  const used = new Set();
  const next = [];
  childList(kids).forEach((node, i) => {
    const key = keyOf(node);
    let prev = key !== null ? byKey.get(key) : old[i];
    if (prev && (used.has(prev) || (key === null && keyOf(prev.__tkwNode) !== null))) prev = undefined;
    if (prev) used.add(prev);
    const elm = prev ? patch(prev, node) : renderNode(node);
    if (elm) next.push(elm);
  });
  for (const e of old) if (!next.includes(e)) e.remove();
  next.forEach((e, i) => {
    if (host.children[i] !== e) host.insertBefore(e, host.children[i] || null);
  });
  owner.__tkwKids = next;
}

const withoutKids = (node) => ({ ...node, children: null });

/** `elm` updated to show `node`: the same element when it can be kept, else a new one. */
export function patch(elm, node) {
  const old = elm.__tkwNode;
  if (old === node || same(old, node)) {
    elm.__tkwNode = node;
    return elm;
  }
  if (isObject(old) && isObject(node) && old.type === node.type && keyOf(old) === keyOf(node)) {
    const update = UPDATE[node.type];
    let kept = Boolean(update && update(elm, old, node));
    if (!kept && elm.__tkwHost && same(withoutKids(old), withoutKids(node))) {
      patchKids(elm, node.children);
      kept = true;
    }
    if (kept) {
      elm.__tkwNode = node;
      elm.__tkwRefresh?.();
      return elm;
    }
  }
  return renderNode(node);
}
