// Widget props -> CSS. Tokens (text/background/border/chart colours, spacing,
// radius) map to the custom properties of widgets.css, so themes and hosts can
// restyle them; primitive colour tokens (`red-100` ... `gray-950`) are computed in
// OKLCH; `{light, dark}` colours become `light-dark()`, which follows the
// `color-scheme` the host (or a widget's `theme`) sets. Free CSS strings are
// assigned through CSSOM (invalid ones are dropped by the browser) and refused when
// they could fetch something (`url(`, `image-set(` ...).

import { isObject } from './dom.js';

/** A CSS string from the server, or null when it could load a resource. */
export function cssText(v) {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || !v || v.length > 200) return null;
  return /url\(|image|element\(|expression|@|\\|[;{}<>"']/i.test(v) ? null : v;
}

/** Lengths: numbers are px. */
export function dim(v) {
  return typeof v === 'number' ? `${v}px` : cssText(v);
}

/** Spacing (gap, padding, margin): numbers are spacing units of --tkw-unit. */
export function space(v) {
  return typeof v === 'number' ? `calc(${v} * var(--tkw-unit))` : cssText(v);
}

const RADIUS = {
  none: '0', '2xs': '2px', xs: '4px', sm: '6px', md: '8px', lg: '12px', xl: '16px',
  '2xl': '20px', '3xl': '24px', '4xl': '32px', full: '9999px', '100%': '100%',
};
export const radius = (v) => RADIUS[v] ?? null;

const TEXT_TOKENS = new Set(['prose', 'primary', 'emphasis', 'secondary', 'tertiary', 'success', 'warning', 'danger']);
const SURFACE_TOKENS = new Set(['surface', 'surface-secondary', 'surface-tertiary', 'surface-elevated', 'surface-elevated-secondary']);
const BORDER_TOKENS = new Set(['default', 'subtle', 'strong']);
export const CHART_TOKENS = ['blue', 'purple', 'orange', 'green', 'red', 'yellow', 'pink'];

// hue angle and peak chroma of each primitive palette
const HUES = {
  red: [25, 0.2], orange: [50, 0.18], amber: [70, 0.17], yellow: [90, 0.17], lime: [128, 0.19],
  green: [148, 0.17], emerald: [163, 0.15], teal: [182, 0.12], cyan: [210, 0.13], sky: [235, 0.14],
  blue: [262, 0.19], indigo: [277, 0.2], violet: [293, 0.22], purple: [305, 0.22], fuchsia: [322, 0.24],
  pink: [350, 0.2], rose: [12, 0.21], gray: [260, 0.015], slate: [255, 0.03], zinc: [285, 0.01],
  neutral: [0, 0], stone: [60, 0.01],
};

function primitive(token) {
  const m = /^([a-z]+)-(\d{2,3})$/.exec(token);
  const hue = m && HUES[m[1]];
  const shade = m && Number(m[2]);
  if (!hue || shade < 25 || shade > 975) return null;
  const t = shade / 1000;
  const lightness = 0.985 - t * 0.8;
  const chroma = hue[1] * Math.max(0.15, 1 - Math.abs(t - 0.55) * 1.4);
  return `oklch(${lightness.toFixed(3)} ${chroma.toFixed(3)} ${hue[0]})`;
}

/** A colour prop: `kind` is 'text', 'surface', 'border' or 'chart' (whose tokens apply). */
export function color(v, kind) {
  if (isObject(v)) {
    const light = color(v.light, kind);
    const dark = color(v.dark, kind);
    return light && dark ? `light-dark(${light}, ${dark})` : light || dark;
  }
  if (typeof v !== 'string') return null;
  if (kind === 'text' && TEXT_TOKENS.has(v)) return `var(--tkw-text-${v})`;
  if (kind === 'surface' && SURFACE_TOKENS.has(v)) return `var(--tkw-${v})`;
  if (kind === 'border' && BORDER_TOKENS.has(v)) return `var(--tkw-border-${v})`;
  if (kind === 'chart' && CHART_TOKENS.includes(v)) return `var(--tkw-chart-${v})`;
  return primitive(v) || cssText(v);
}

function put(style, prop, value) {
  if (value !== null && value !== undefined) style[prop] = value;
}

/** padding/margin: a spacing value or `{top, right, bottom, left, x, y}`. */
export function applySpacing(style, prop, v) {
  if (v === undefined || v === null) return;
  if (!isObject(v)) return put(style, prop, space(v));
  const sides = { Top: v.top ?? v.y, Right: v.right ?? v.x, Bottom: v.bottom ?? v.y, Left: v.left ?? v.x };
  for (const side in sides) if (sides[side] !== undefined) put(style, prop + side, space(sides[side]));
}

function borderValue(b) {
  if (typeof b === 'number') return `${b}px solid var(--tkw-border-default)`;
  if (!isObject(b)) return null;
  const style = /^(solid|dashed|dotted|double|groove|ridge|inset|outset)$/.test(b.style) ? b.style : 'solid';
  return `${Number(b.size) || 0}px ${style} ${color(b.color, 'border') || 'var(--tkw-border-default)'}`;
}

/** border: px, a Border, or Borders by edge. */
export function applyBorder(style, v) {
  if (v === undefined || v === null) return;
  if (typeof v === 'number' || 'size' in v) return put(style, 'border', borderValue(v));
  const edges = { Top: v.top ?? v.y, Right: v.right ?? v.x, Bottom: v.bottom ?? v.y, Left: v.left ?? v.x };
  for (const edge in edges) if (edges[edge] !== undefined) put(style, `border${edge}`, borderValue(edges[edge]));
}

const ALIGN = { start: 'flex-start', end: 'flex-end', center: 'center', baseline: 'baseline', stretch: 'stretch' };
const JUSTIFY = {
  start: 'flex-start', end: 'flex-end', center: 'center', between: 'space-between',
  around: 'space-around', evenly: 'space-evenly', stretch: 'stretch',
};
export const alignValue = (v) => ALIGN[v] ?? null;

/** width, height, size, min/max sizes, flex and aspectRatio (every sized component). */
export function applySize(node, p) {
  const s = node.style;
  put(s, 'width', dim(p.width ?? p.size));
  put(s, 'height', dim(p.height ?? p.size));
  put(s, 'minWidth', dim(p.minWidth ?? p.minSize));
  put(s, 'minHeight', dim(p.minHeight ?? p.minSize));
  put(s, 'maxWidth', dim(p.maxWidth ?? p.maxSize));
  put(s, 'maxHeight', dim(p.maxHeight ?? p.maxSize));
  if (p.flex !== undefined) put(s, 'flex', typeof p.flex === 'number' ? `${p.flex} ${p.flex} 0%` : cssText(p.flex));
  if (p.aspectRatio !== undefined) put(s, 'aspectRatio', cssText(p.aspectRatio));
}

/** The props of Box/Row/Col/Form (and ListViewItem's gap/align). */
export function applyBox(node, p) {
  const s = node.style;
  applySize(node, p);
  put(s, 'alignItems', alignValue(p.align));
  put(s, 'justifyContent', JUSTIFY[p.justify] ?? null);
  if (/^(nowrap|wrap|wrap-reverse)$/.test(p.wrap)) s.flexWrap = p.wrap;
  if (p.gap !== undefined) put(s, 'gap', space(p.gap));
  applySpacing(s, 'padding', p.padding);
  applySpacing(s, 'margin', p.margin);
  applyBorder(s, p.border);
  put(s, 'borderRadius', radius(p.radius));
  put(s, 'background', color(p.background, 'surface'));
}

const WEIGHT = { normal: '400', medium: '500', semibold: '600', bold: '700' };
const TEXT_ALIGN = { start: 'start', center: 'center', end: 'end' };

/** Typography props shared by Text, Title, Caption and Label. */
export function applyText(node, p) {
  const s = node.style;
  put(s, 'color', color(p.color, 'text'));
  put(s, 'fontWeight', WEIGHT[p.weight] ?? null);
  put(s, 'textAlign', TEXT_ALIGN[p.textAlign] ?? null);
  if (p.italic) s.fontStyle = 'italic';
  if (p.lineThrough) s.textDecoration = 'line-through';
  if (p.width !== undefined) put(s, 'width', dim(p.width));
  if (p.truncate) node.classList.add('tkw-truncate');
  if (p.maxLines > 0) {
    node.classList.add('tkw-clamp');
    s.webkitLineClamp = String(p.maxLines);
  }
  if (p.minLines > 0) s.minHeight = `calc(${p.minLines} * 1lh)`;
}

// control heights and font sizes by size token
const CONTROL = {
  '3xs': [22, 12], '2xs': [24, 12], xs: [26, 13], sm: [28, 13], md: [32, 14],
  lg: [36, 15], xl: [40, 16], '2xl': [44, 17], '3xl': [48, 18],
};
const GUTTER = { '2xs': 4, xs: 6, sm: 8, md: 10, lg: 12, xl: 16 };

/** Size, gutter, pill and block of buttons and form controls. */
export function applyControl(node, p, fallback = 'md') {
  const [height, font] = CONTROL[p.size] || CONTROL[fallback];
  const s = node.style;
  s.setProperty('--tkw-h', `${height}px`);
  s.setProperty('--tkw-fs', `${font}px`);
  const gutter = GUTTER[p.gutterSize];
  s.setProperty('--tkw-gutter', `${gutter ?? Math.round(height * 0.36)}px`);
  if (p.pill) node.classList.add('tkw-pill');
  if (p.block) node.classList.add('tkw-block');
}
