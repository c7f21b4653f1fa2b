// The icons of chatkit.icons.IconName, drawn here as 24x24 SVG paths (strokes in
// the current colour; a path starting with `F` is filled, `K` is a stroke in the
// surface colour on top of a fill). Built with DOM APIs, no icon font. Names this
// renderer does not draw (`vendor:*`, `lucide:*`, unknown) show a neutral dot.

import { svg } from './dom.js';

const C = (cx, cy, r) => `M${cx - r} ${cy}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0-${2 * r} 0`;
const RING = C(12, 12, 9);
const STAR = 'M12 3l2.8 5.7 6.2.9-4.5 4.4 1 6.2-5.5-2.9-5.5 2.9 1-6.2L3 9.6l6.2-.9z';
const SPARK = 'M12 3c1 5 3 7 8 9-5 1.5-7 3.5-8 9-1-5.5-3-7.5-8-9 5-2 7-4 8-9z';
const PAGE = 'M6 2h8l5 5v15H6z|M14 2v5h5';
const BOOK = 'M5 4a2 2 0 0 1 2-2h12v16H7a2 2 0 0 0-2 2z|M5 20a2 2 0 0 0 2 2h12v-4';

const ICONS = {
  agent: 'M5 8h14v11H5z|M12 8V4|M10 4h4|M9 13h.01|M15 13h.01|M9.5 16h5',
  analytics: 'M3 21h18|M6 17v-5|M11 17V7|M16 17v-8|M20 17V4',
  atom: `${C(12, 12, 1.5)}|M7.5 4.2a9 3.5 60 1 0 9 15.6a9 3.5 60 1 0-9-15.6|M7.5 19.8a9 3.5-60 1 0 9-15.6a9 3.5-60 1 0-9 15.6`,
  batch: 'M12 3 3 8l9 5 9-5z|M3 12l9 5 9-5|M3 16l9 5 9-5',
  bolt: 'M13 2 4 14h7l-1 8 9-12h-7z',
  'book-open': 'M2 5h6a4 4 0 0 1 4 4v11a3 3 0 0 0-3-3H2z|M22 5h-6a4 4 0 0 0-4 4v11a3 3 0 0 1 3-3h7z',
  'book-closed': BOOK,
  'book-clock': `M5 4a2 2 0 0 1 2-2h12v8|M5 20a2 2 0 0 0 2 2h4|M5 4v16|${C(17, 17, 4.5)}|M17 15v2.2l1.4 1.2`,
  bug: 'M8 10a4 4 0 0 1 8 0v5a4 4 0 0 1-8 0z|M12 10v9|M3 11h5|M16 11h5|M3 17h5|M16 17h5|M9 6 7 3|M15 6l2-3',
  calendar: 'M3 5h18v16H3z|M3 10h18|M8 3v4|M16 3v4',
  chart: 'M3 3v18h18|M7 15l4-4 3 3 5-6',
  check: 'M5 12.5l4.5 4.5L19 7',
  'check-circle': `${RING}|M8 12.5l3 3 5-6`,
  'check-circle-filled': `F${RING}|KM8 12.5l3 3 5-6`,
  'chevron-left': 'M15 5l-7 7 7 7',
  'chevron-right': 'M9 5l7 7-7 7',
  'circle-question': `${RING}|M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6v.6|M12 17h.01`,
  clock: `${RING}|M12 7v5l3.5 2`,
  compass: `${RING}|M15.5 8.5l-2 5-5 2 2-5z`,
  confetti: 'M3 21 8 9l7 7z|M13 3v3|M18 9h3|M16 6l2.5-2.5|M18.5 14l2.5 1',
  cube: 'M12 2l9 5v10l-9 5-9-5V7z|M3 7l9 5 9-5|M12 12v10',
  desktop: 'M3 4h18v12H3z|M8 20h8|M12 16v4',
  document: `${PAGE}|M9 13h7|M9 17h7`,
  dot: `F${C(12, 12, 3)}`,
  'dots-horizontal': `F${C(5, 12, 1.6)}${C(12, 12, 1.6)}${C(19, 12, 1.6)}`,
  'dots-vertical': `F${C(12, 5, 1.6)}${C(12, 12, 1.6)}${C(12, 19, 1.6)}`,
  'empty-circle': RING,
  'external-link': 'M14 3h7v7|M21 3l-9 9|M19 14v6H4V5h6',
  globe: `${RING}|M3 12h18|M12 3a14 14 0 0 1 0 18|M12 3a14 14 0 0 0 0 18`,
  keys: `${C(7.5, 15.5, 4.5)}|M10.7 12.3 20 3|M16 7l3 3|M13.5 9.5l2 2`,
  lab: 'M9 3h6|M10 3v6l-5.5 10A2 2 0 0 0 6.3 22h11.4a2 2 0 0 0 1.8-3L14 9V3|M7 15h10',
  images: 'M7 7h14v12H7z|M3 15V3h14|M7 16l4-4 3 3 2-2 5 4',
  info: `${RING}|M12 11v6|M12 7.5h.01`,
  lifesaver: `${RING}|${C(12, 12, 4)}|M5.6 5.6l3.6 3.6|M14.8 14.8l3.6 3.6|M18.4 5.6l-3.6 3.6|M9.2 14.8l-3.6 3.6`,
  lightbulb: 'M9 18h6|M10 22h4|M12 2a7 7 0 0 0-4 12.7V16h8v-1.3A7 7 0 0 0 12 2z',
  mail: 'M3 5h18v14H3z|M3 6l9 7 9-7',
  'map-pin': `M12 22s7-6.5 7-12a7 7 0 0 0-14 0c0 5.5 7 12 7 12z|${C(12, 10, 2.5)}`,
  maps: 'M9 4 3 6v14l6-2 6 2 6-2V4l-6 2z|M9 4v14|M15 6v14',
  mobile: 'M7 2h10v20H7z|M11 18h2',
  name: 'M3 6h18v13H3z|M7 11h5|M7 15h8|M15 3v5|M9 3v5',
  notebook: 'M5 3h14v18H5z|M9 3v18|M12 8h4|M12 12h4',
  'notebook-pencil': 'M5 3h11v18H5z|M9 3v18|M21 7l-5 9-2 1v-2.2l5-8.8z',
  'page-blank': PAGE,
  phone: 'M5 3h4l2 5-2.5 1.5a11 11 0 0 0 6 6L16 13l5 2v4a2 2 0 0 1-2 2A17 17 0 0 1 3 5a2 2 0 0 1 2-2z',
  play: 'M7 4v16l13-8z',
  plus: 'M12 5v14|M5 12h14',
  profile: `${RING}|${C(12, 10, 3)}|M6.5 18.5a6 6 0 0 1 11 0`,
  'profile-card': `M3 5h18v14H3z|${C(8, 11, 2)}|M5 16a3 3 0 0 1 6 0|M14 10h4|M14 14h4`,
  reload: 'M20 12a8 8 0 1 1-2.3-5.7|M20 4v5h-5',
  star: STAR,
  'star-filled': `F${STAR}`,
  search: `${C(11, 11, 7)}|M16 16l5 5`,
  sparkle: SPARK,
  'sparkle-double': 'M10 5c.8 4 2.4 5.6 6.5 6.5-4.1.9-5.7 2.5-6.5 6.5-.8-4-2.4-5.6-6.5-6.5C7.6 10.6 9.2 9 10 5z|M18 2c.4 1.8 1 2.4 2.8 2.8-1.8.4-2.4 1-2.8 2.8-.4-1.8-1-2.4-2.8-2.8C17 4.4 17.6 3.8 18 2z',
  'square-code': 'M3 3h18v18H3z|M10 9l-3 3 3 3|M14 9l3 3-3 3',
  'square-image': 'M3 3h18v18H3z|M3 16l5-5 5 5 3-3 5 5|M15.5 8h.01',
  'square-text': 'M3 3h18v18H3z|M7 8h10|M7 12h10|M7 16h6',
  suitcase: 'M3 7h18v13H3z|M8 7V4h8v3|M3 12h18',
  'settings-slider': 'M4 6h9|M17 6h3|M4 12h3|M11 12h9|M4 18h11|M19 18h1|M15 4v4|M9 10v4|M17 16v4',
  user: `${C(12, 7, 4)}|M4 21a8 8 0 0 1 16 0`,
  wreath: 'M8 20C3.5 16 3 9 7 4|M16 20c4.5-4 5-11 1-16|M5 15l-2 .5|M4.5 10.5 3 9|M19 15l2 .5|M19.5 10.5 21 9|M9 21h6',
  write: 'M4 20h4L19 9l-4-4L4 16z|M13 7l4 4',
  'write-alt': 'M12 20h9|M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z',
  'write-alt2': 'M11 4H4v16h16v-7|M18 2l4 4-10 10H8v-4z',
};

/** Whether `name` is one this renderer draws. */
export const hasIcon = (name) => Object.hasOwn(ICONS, name);

/** An inline SVG icon (decorative: aria-hidden). */
export function icon(name, cls = '') {
  const node = svg('svg', { viewBox: '0 0 24 24', class: `tkw-icon ${cls}`.trim(), 'aria-hidden': 'true', focusable: 'false' });
  node.dataset.icon = String(name);
  for (const d of (ICONS[name] || ICONS.dot).split('|')) {
    const kind = d[0] === 'F' || d[0] === 'K' ? d[0] : '';
    node.append(svg('path', { d: kind ? d.slice(1) : d, class: kind === 'F' ? 'tkw-fill' : kind === 'K' ? 'tkw-knock' : null }));
  }
  return node;
}
