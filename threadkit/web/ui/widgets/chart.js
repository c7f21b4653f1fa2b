// Chart: bar, line and area series (stacked by `stack`) drawn as SVG, with a
// legend, a Y axis, X labels and a tooltip that follows the pointer or the arrow
// keys. The data is also in a table for screen readers. Curves: linear, the step
// kinds, and monotone cubic for every smooth kind (basis, natural, bump, monotone).

import { register } from './core.js';
import { el, isObject, svg } from './dom.js';
import { CHART_TOKENS, applySize, color } from './style.js';

const FORMAT = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : Number(v) || 0);
const fmt = (v) => FORMAT.format(v);

function niceStep(span) {
  const raw = span / 4 || 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

function monotone(pts) {
  const n = pts.length;
  const m = [];
  for (let i = 0; i < n - 1; i++) m.push((pts[i + 1][1] - pts[i][1]) / (pts[i + 1][0] - pts[i][0]));
  const t = pts.map((_, i) => (i === 0 ? m[0] : i === n - 1 ? m[n - 2] : m[i - 1] * m[i] <= 0 ? 0 : (m[i - 1] + m[i]) / 2));
  for (let i = 0; i < n - 1; i++) {
    if (m[i] === 0) {
      t[i] = t[i + 1] = 0;
      continue;
    }
    const a = t[i] / m[i];
    const b = t[i + 1] / m[i];
    const s = a * a + b * b;
    if (s > 9) {
      const k = 3 / Math.sqrt(s);
      t[i] = k * a * m[i];
      t[i + 1] = k * b * m[i];
    }
  }
  let d = '';
  for (let i = 0; i < n - 1; i++) {
    const [x0, y0] = pts[i];
    const [x1, y1] = pts[i + 1];
    const h = (x1 - x0) / 3;
    d += `C${x0 + h} ${y0 + t[i] * h} ${x1 - h} ${y1 - t[i + 1] * h} ${x1} ${y1}`;
  }
  return d;
}

/** Path commands through `pts` (after a move/line to the first point). */
function curve(pts, kind, start = 'M') {
  if (!pts.length) return '';
  let d = `${start}${pts[0][0]} ${pts[0][1]}`;
  if (pts.length > 2 && !/^(linear|linearClosed|step|stepBefore|stepAfter)$/.test(kind || 'linear')) return d + monotone(pts);
  for (let i = 1; i < pts.length; i++) {
    const [x0] = pts[i - 1];
    const [x, y] = pts[i];
    if (kind === 'step') d += `H${(x0 + x) / 2}V${y}H${x}`;
    else if (kind === 'stepBefore') d += `V${y}H${x}`;
    else if (kind === 'stepAfter') d += `H${x}V${y}`;
    else d += `L${x} ${y}`;
  }
  return d;
}

function Chart(node) {
  const wrap = el('div', 'tkw-chart', { role: 'figure' });
  // height, size and aspectRatio shape the plot (below); the rest sizes the figure
  applySize(wrap, { ...node, height: undefined, size: undefined, aspectRatio: undefined, width: node.width ?? node.size });
  const rows = Array.isArray(node.data) ? node.data.filter(isObject) : [];
  const series = (Array.isArray(node.series) ? node.series : []).filter((s) => isObject(s) && typeof s.dataKey === 'string');
  const xAxis = isObject(node.xAxis) ? node.xAxis : { dataKey: node.xAxis };
  const cats = rows.map((r) => {
    const v = r[xAxis.dataKey];
    return isObject(xAxis.labels) && xAxis.labels[v] !== undefined ? String(xAxis.labels[v]) : String(v ?? '');
  });
  const names = series.map((s) => String(s.label ?? s.dataKey));
  const fills = series.map((s, i) => color(s.color, 'chart') || `var(--tkw-chart-${CHART_TOKENS[i % CHART_TOKENS.length]})`);
  wrap.setAttribute('aria-label', `Chart: ${names.join(', ') || 'no data'}`);
  const showY = node.showYAxis !== false;
  const showTip = node.showTooltip !== false;

  // stacked values: the base and top of every (series, row)
  const spans = series.map(() => []);
  const bases = new Map();
  series.forEach((s, si) => {
    const group = s.type !== 'line' && s.stack != null ? `${s.type}:${s.stack}` : null;
    rows.forEach((r, ri) => {
      const v = num(r[s.dataKey]);
      const base = group ? bases.get(`${group}:${ri}`) || 0 : 0;
      if (group) bases.set(`${group}:${ri}`, base + v);
      spans[si][ri] = [base, base + v];
    });
  });
  const all = spans.flat(2);
  let lo = Math.min(0, ...all);
  let hi = Math.max(0, ...all);
  const step = niceStep(hi - lo);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step || step;
  const bars = series.map((s, i) => (s.type === 'bar' ? (s.stack != null ? `s:${s.stack}` : `i:${i}`) : null));
  const groups = [...new Set(bars.filter(Boolean))];

  const height = typeof node.height === 'number' ? node.height : typeof node.size === 'number' ? node.size : 220;
  const image = svg('svg', { class: 'tkw-chart-svg', 'aria-hidden': 'true', focusable: 'false' });
  const tip = el('div', 'tkw-tooltip', { hidden: true });
  let geometry = null;

  function draw(width) {
    const H = typeof node.aspectRatio === 'number' && node.aspectRatio > 0 ? Math.round(width / node.aspectRatio) : height;
    const left = showY ? 44 : 8;
    const bottom = xAxis.hide ? 8 : 24;
    const plotW = Math.max(10, width - left - 8);
    const plotH = Math.max(10, H - bottom - 8);
    const y = (v) => 8 + plotH - ((v - lo) / (hi - lo)) * plotH;
    const band = plotW / Math.max(1, rows.length);
    image.setAttribute('viewBox', `0 0 ${width} ${H}`);
    image.setAttribute('width', String(width));
    image.setAttribute('height', String(H));
    image.replaceChildren();
    const grid = svg('g', { class: 'tkw-chart-grid' });
    for (let v = lo; v <= hi + step / 2; v += step) {
      grid.append(svg('line', { x1: left, x2: left + plotW, y1: y(v), y2: y(v) }));
      if (showY) grid.append(svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', text: fmt(v) }));
    }
    if (!xAxis.hide) {
      cats.forEach((c, i) => grid.append(svg('text', { x: left + (i + 0.5) * band, y: H - 6, 'text-anchor': 'middle', text: c })));
    }
    image.append(grid);
    const hover = svg('rect', { class: 'tkw-chart-hover', y: 8, height: plotH, width: band, x: left, visibility: 'hidden' });
    image.append(hover);
    const catGap = Math.min(band * 0.8, node.barCategoryGap ?? band * 0.2);
    const barGap = node.barGap ?? 4;
    const barW = groups.length ? Math.max(1, (band - catGap - barGap * (groups.length - 1)) / groups.length) : 0;
    // Bars first, then areas, then lines, whatever the series' order: a line stays on
    // top of the bars it is read against.
    const layer = { bar: 0, area: 1, line: 2 };
    const order = series.map((_, si) => si).sort((a, b) => (layer[series[a].type] ?? 2) - (layer[series[b].type] ?? 2));
    order.forEach((si) => {
      const s = series[si];
      const paint = (shape) => {
        shape.style[s.type === 'line' ? 'stroke' : 'fill'] = fills[si];
        if (s.type === 'area') shape.style.stroke = fills[si];
        image.append(shape);
      };
      if (s.type === 'bar') {
        const g = groups.indexOf(bars[si]);
        rows.forEach((_, ri) => {
          const [a, b] = spans[si][ri];
          const top = y(Math.max(a, b));
          paint(svg('rect', { class: 'tkw-bar', x: left + ri * band + catGap / 2 + g * (barW + barGap), y: top, width: barW, height: Math.max(0, y(Math.min(a, b)) - top), rx: 2 }));
        });
        return;
      }
      const top = rows.map((_, ri) => [left + (ri + 0.5) * band, y(spans[si][ri][1])]);
      if (s.type === 'area') {
        const base = rows.map((_, ri) => [left + (ri + 0.5) * band, y(spans[si][ri][0])]).reverse();
        paint(svg('path', { class: 'tkw-area', d: `${curve(top, s.curveType)}${curve(base, s.curveType, 'L')}Z` }));
      } else {
        paint(svg('path', { class: 'tkw-line', d: curve(top, s.curveType) }));
        // a dot on every value, ringed in the series' colour (readable over a bar too)
        for (const [cx, cy] of top) paint(svg('circle', { class: 'tkw-dot', cx, cy, r: 3.5 }));
      }
    });
    geometry = { width, left, band, hover };
  }

  let active = -1;
  function show(i) {
    if (!geometry || !rows.length) return;
    active = Math.max(0, Math.min(rows.length - 1, i));
    const { hover, left, band, width } = geometry;
    hover.setAttribute('x', String(left + active * band));
    hover.setAttribute('visibility', 'visible');
    tip.replaceChildren(el('strong', '', { text: cats[active] }));
    series.forEach((s, si) => {
      const line = el('div', 'tkw-tooltip-row');
      const swatch = el('span', 'tkw-swatch');
      swatch.style.background = fills[si];
      line.append(swatch, el('span', '', { text: `${names[si]}: ${fmt(num(rows[active][s.dataKey]))}` }));
      tip.append(line);
    });
    tip.hidden = false;
    const scale = image.getBoundingClientRect().width / width || 1;
    tip.style.left = `${(left + (active + 0.5) * band) * scale}px`;
  }
  function hide() {
    tip.hidden = true;
    geometry?.hover.setAttribute('visibility', 'hidden');
  }

  draw(600);
  wrap.append(image);
  if (showTip) {
    wrap.append(tip);
    wrap.tabIndex = 0;
    image.addEventListener('pointermove', (event) => {
      const rect = image.getBoundingClientRect();
      const x = ((event.clientX - rect.left) / rect.width) * geometry.width;
      show(Math.floor((x - geometry.left) / geometry.band));
    });
    image.addEventListener('pointerleave', hide);
    wrap.addEventListener('focus', () => show(Math.max(active, 0)));
    wrap.addEventListener('blur', hide);
    wrap.addEventListener('keydown', (event) => {
      const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -Infinity, End: Infinity };
      if (event.key === 'Escape') hide();
      else if (event.key in moves) {
        event.preventDefault();
        show(Number.isFinite(moves[event.key]) ? active + moves[event.key] : moves[event.key] > 0 ? rows.length - 1 : 0);
      }
    });
  }
  if ((node.showLegend ?? series.length > 1) && series.length) {
    const legend = el('ul', 'tkw-legend', { role: 'list' });
    names.forEach((name, i) => {
      const swatch = el('span', 'tkw-swatch');
      swatch.style.background = fills[i];
      const item = el('li');
      item.append(swatch, el('span', '', { text: name }));
      legend.append(item);
    });
    wrap.append(legend);
  }
  const table = el('table', 'tkw-sr-only');
  const head = el('tr');
  head.append(el('th', '', { text: String(xAxis.dataKey ?? '') }), ...names.map((n) => el('th', '', { text: n })));
  table.append(head);
  rows.forEach((r, ri) => {
    const tr = el('tr');
    tr.append(el('th', '', { text: cats[ri] }), ...series.map((s) => el('td', '', { text: String(r[s.dataKey] ?? '') })));
    table.append(tr);
  });
  wrap.append(table);

  // redraw at the width the chart got (after layout, outside the observer's callback)
  if (typeof ResizeObserver === 'function') {
    let frame = 0;
    new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        const w = Math.round(wrap.clientWidth);
        if (w > 40 && Math.abs(w - geometry.width) > 2) draw(w);
      });
    }).observe(wrap);
  }
  return wrap;
}

register({ Chart });
