// DOM helpers of the widget renderer. Everything is built with the DOM API: text
// goes in with textContent, never through an HTML parser, and styles are set with
// CSSOM properties (the UI's CSP forbids inline style attributes from strings).

const SVG_NS = 'http://www.w3.org/2000/svg';

/** `el('div', 'tkw-x', {role: 'group', text: 'hi'})`; `true` sets an empty attribute,
 * `false`/`null`/`undefined` leave it out. */
export function el(tag, cls, attrs) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (attrs) setAttrs(node, attrs);
  return node;
}

/** An SVG element with attributes. */
export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  if (attrs) setAttrs(node, attrs);
  return node;
}

export function setAttrs(node, attrs) {
  for (const key in attrs) {
    const value = attrs[key];
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  return node;
}

let counter = 0;
/** A document-unique id for label/field links. */
export function uid(prefix = 'tkw') {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** 'book-open' -> 'Book open' (accessible names of icon-only controls). */
export function humanize(name) {
  const text = String(name || '').replace(/^(vendor|lucide):/, '').replace(/[-_]+/g, ' ').trim();
  return text ? text[0].toUpperCase() + text.slice(1) : '';
}

export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Structural equality of JSON values. */
export function same(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!same(a[k], b[k])) return false;
  return true;
}
