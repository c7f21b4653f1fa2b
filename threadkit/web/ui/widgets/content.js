// Content components: Text, Title, Caption, Markdown, Badge, Label, Icon, Image,
// Divider, Spacer.

import { ctx, register } from './core.js';
import { el, isObject, same } from './dom.js';
import { editable } from './controls.js';
import { icon } from './icons.js';
import { applySize, applySpacing, applyText, color, dim, radius, space } from './style.js';

const TEXT = new Set(['xs', 'sm', 'md', 'lg', 'xl']);
const TITLE = new Set(['sm', 'md', 'lg', 'xl', '2xl', '3xl', '4xl', '5xl']);
const CAPTION = new Set(['sm', 'md', 'lg']);
const token = (set, v, fallback) => (set.has(v) ? v : fallback);

function textual(tag, cls, node) {
  const e = el(tag, cls);
  e.textContent = String(node.value ?? '');
  applyText(e, node);
  if (node.streaming) e.classList.add('tkw-streaming');
  return e;
}

function Text(node) {
  if (isObject(node.editable)) return editable(node);
  return textual('p', `tkw-text tkw-ts-${token(TEXT, node.size, 'md')}`, node);
}

const Title = (node) => textual('h3', `tkw-title tkw-tt-${token(TITLE, node.size, 'md')}`, node);
const Caption = (node) => textual('p', `tkw-caption tkw-tc-${token(CAPTION, node.size, 'md')}`, node);

function markdownInto(e, node) {
  const render = ctx()?.markdown;
  const value = String(node.value ?? '');
  const out = typeof render === 'function' ? render(value) : null;
  if (out instanceof Node) e.replaceChildren(out);
  else e.textContent = value;
  e.classList.toggle('tkw-streaming', Boolean(node.streaming));
}

function Markdown(node) {
  const e = el('div', 'tkw-markdown');
  markdownInto(e, node);
  return e;
}

/** Only the text (and its streaming flag) changed: update in place. */
function onlyValue(old, node) {
  return same({ ...old, value: 0, streaming: 0 }, { ...node, value: 0, streaming: 0 });
}

function updateText(e, old, node) {
  if (isObject(node.editable) || isObject(old.editable) || !onlyValue(old, node)) return false;
  if (e.textContent !== node.value) e.textContent = String(node.value ?? '');
  e.classList.toggle('tkw-streaming', Boolean(node.streaming));
  return true;
}

function updateMarkdown(e, old, node) {
  if (!onlyValue(old, node)) return false;
  markdownInto(e, node);
  return true;
}

const BADGE_TONES = new Set(['secondary', 'success', 'danger', 'warning', 'info', 'discovery']);

function Badge(node) {
  const tone = BADGE_TONES.has(node.color) ? node.color : 'secondary';
  const variant = ['solid', 'soft', 'outline'].includes(node.variant) ? node.variant : 'soft';
  const e = el('span', `tkw-badge tkw-tone-${tone} tkw-v-${variant} tkw-bs-${token(CAPTION, node.size, 'sm')}`);
  e.textContent = String(node.label ?? '');
  if (node.pill) e.classList.add('tkw-pill');
  return e;
}

function Label(node) {
  const e = el('label', `tkw-label tkw-ts-${token(TEXT, node.size, 'sm')}`);
  e.textContent = String(node.value ?? '');
  e.dataset.tkwFor = String(node.fieldName ?? '');
  applyText(e, node);
  return e;
}

const ICON_SIZES = new Set(['xs', 'sm', 'md', 'lg', 'xl', '2xl', '3xl']);

function Icon(node) {
  const e = icon(node.name, `tkw-is-${token(ICON_SIZES, node.size, 'md')}`);
  const c = color(node.color, 'text');
  if (c) e.style.color = c;
  return e;
}

const POSITIONS = new Set(['top left', 'top', 'top right', 'left', 'center', 'right', 'bottom left', 'bottom', 'bottom right']);

function Image(node) {
  const allowed = typeof node.src === 'string' && Boolean(ctx()?.isImageAllowed?.(node.src));
  const alt = typeof node.alt === 'string' ? node.alt : '';
  let e;
  if (allowed) {
    e = el('img', 'tkw-image', { alt, decoding: 'async' });
    e.src = node.src;
    if (/^(cover|contain|fill|scale-down|none)$/.test(node.fit)) e.style.objectFit = node.fit;
    if (POSITIONS.has(node.position)) e.style.objectPosition = node.position;
  } else {
    // not from an allowed origin: never requested; the alt text stands in
    e = el('div', 'tkw-image tkw-image-blocked', { role: 'img', 'aria-label': alt || 'Image not shown' });
    e.append(icon('square-image'), el('span', '', { text: alt || 'Image not shown' }));
  }
  applySize(e, node);
  applySpacing(e.style, 'margin', node.margin);
  const r = radius(node.radius);
  if (r) e.style.borderRadius = r;
  const bg = color(node.background, 'surface');
  if (bg) e.style.background = bg;
  if (node.frame) e.classList.add('tkw-frame');
  if (node.flush) e.classList.add('tkw-flush');
  return e;
}

function Divider(node) {
  const e = el('hr', 'tkw-divider');
  const c = color(node.color, 'border');
  if (c) e.style.setProperty('--tkw-divider', c);
  if (node.size !== undefined) e.style.setProperty('--tkw-divider-size', dim(node.size) || '1px');
  if (node.spacing !== undefined) e.style.marginBlock = space(node.spacing) || '';
  if (node.flush) e.classList.add('tkw-flush');
  return e;
}

function Spacer(node) {
  const e = el('div', 'tkw-spacer', { 'aria-hidden': 'true' });
  const min = dim(node.minSize);
  if (min) e.style.flexBasis = min;
  return e;
}

register(
  { Text, Title, Caption, Markdown, Badge, Label, Icon, Image, Divider, Spacer },
  { Text: updateText, Title: updateText, Caption: updateText, Markdown: updateMarkdown },
);
