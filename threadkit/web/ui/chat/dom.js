// Small DOM helpers: elements are built with the DOM API, never from HTML strings,
// so nothing a server sends is ever parsed as markup (markdown goes through
// markdown.js) and no inline style reaches the page's CSP.

/**
 * `h('button', {class: 'x', 'aria-label': 'Send', onclick: fn}, 'text', child)`.
 * `class`, `text` and `dataset` are shorthands; `on<event>` functions are listeners;
 * `true` sets an empty attribute and `false`/`null`/`undefined` leave it out.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child);
  }
}

const SVG = 'http://www.w3.org/2000/svg';

// 24x24 outline icons, drawn with strokes in the current text colour.
const ICONS = {
  send: ['M12 19V5', 'M5 12l7-7 7 7'],
  stop: ['M7 7h10v10H7z'],
  attach: ['M21 11.5l-8.5 8.5a5 5 0 0 1-7-7L14 4.5a3.3 3.3 0 0 1 4.7 4.7L10.2 17.7a1.7 1.7 0 0 1-2.4-2.4L15.5 7.6'],
  history: ['M4 6h16', 'M4 12h16', 'M4 18h10'],
  compose: ['M12 5v14', 'M5 12h14'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  up: ['M7 11v9H4v-9z', 'M7 11l4-8a2 2 0 0 1 2 2v4h5.5a2 2 0 0 1 2 2.3l-1.2 7A2 2 0 0 1 17.3 20H7'],
  down: ['M7 13V4H4v9z', 'M7 13l4 8a2 2 0 0 0 2-2v-4h5.5a2 2 0 0 0 2-2.3l-1.2-7A2 2 0 0 0 17.3 4H7'],
  retry: ['M4 4v6h6', 'M5.5 15a7 7 0 1 0 1.6-7.3L4 10'],
  rename: ['M4 20h4L19 9l-4-4L4 16z', 'M13 7l4 4'],
  delete: ['M4 7h16', 'M9 7V4h6v3', 'M6 7l1 13h10l1-13'],
  file: ['M6 3h8l4 4v14H6z', 'M14 3v4h4'],
  check: ['M5 12l5 5 9-10'],
  back: ['M15 5l-7 7 7 7'],
  menu: ['M4 6h16', 'M4 12h16', 'M4 18h16'],
  star: ['M12 3l2.8 5.7 6.2.9-4.5 4.4 1 6.2-5.5-2.9-5.5 2.9 1-6.2L3 9.6l6.2-.9z'],
  dots: ['M5 12h.01', 'M12 12h.01', 'M19 12h.01'],
  info: ['M12 8h.01', 'M11 12h1v5h1', 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z'],
};

/** An inline SVG icon (decorative: the button around it carries the name). */
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'tk-icon');
  for (const d of ICONS[name] || ICONS.dots) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** A button showing an icon, named for assistive technology by `label`. */
export function iconButton(name, label, onclick, extra = {}) {
  return h('button', { type: 'button', class: 'tk-icon-button', 'aria-label': label, title: label, onclick, ...extra }, icon(name));
}
