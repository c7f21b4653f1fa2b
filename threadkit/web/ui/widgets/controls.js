// Controls: Button, Input, Textarea, Select, DatePicker, Checkbox, RadioGroup and
// editable Text. Each field carries `data-tkw-field` (its `name`), which is how
// forms collect values; labels are linked after rendering (linkLabels), and a field
// no Label names gets an aria-label from its placeholder or name.

import { fire } from './actions.js';
import { register } from './core.js';
import { el, humanize, isObject, uid } from './dom.js';
import { icon } from './icons.js';
import { applyControl } from './style.js';

const TONES = new Set(['primary', 'secondary', 'info', 'discovery', 'success', 'caution', 'warning', 'danger']);
const VARIANTS = new Set(['solid', 'soft', 'outline', 'ghost']);
const ICON_SIZES = new Set(['sm', 'md', 'lg', 'xl', '2xl']);

/** The common part of every field element. */
function field(f, node, fallbackName, defaultValue) {
  const name = String(node.name ?? '');
  f.dataset.tkwField = name;
  if (f.type !== 'radio') f.name = name;
  f.id = uid();
  f.__tkwDefault = defaultValue;
  if (fallbackName !== null) f.dataset.tkwName = fallbackName || humanize(name) || 'Field';
  if (node.disabled) f.disabled = true;
  if (node.required) f.required = true;
  if (node.autoFocus) f.dataset.tkwAutofocus = '';
  if (node.autoSelect && typeof f.select === 'function') f.addEventListener('focus', () => f.select());
  f.addEventListener('input', () => (f.__tkwDirty = true));
  f.addEventListener('change', () => (f.__tkwDirty = true));
  return f;
}

function textField(f, node, defaultValue) {
  if (typeof node.placeholder === 'string') f.placeholder = node.placeholder;
  if (typeof node.pattern === 'string') f.pattern = node.pattern;
  if (node.allowAutofillExtensions !== true) f.autocomplete = 'off';
  f.value = defaultValue;
  return field(f, node, node.placeholder, defaultValue);
}

function variantClass(node, fallback) {
  return `tkw-fv-${['soft', 'outline', 'solid', 'ghost'].includes(node.variant) ? node.variant : fallback}`;
}

function Button(node) {
  const secondary = node.style === 'secondary';
  const tone = TONES.has(node.color) ? node.color : secondary ? 'secondary' : 'primary';
  const variant = VARIANTS.has(node.variant) ? node.variant : secondary ? 'outline' : 'solid';
  const b = el('button', `tkw-button tkw-ctl tkw-tone-${tone} tkw-v-${variant}`, { type: node.submit ? 'submit' : 'button' });
  applyControl(b, node);
  const iconCls = `tkw-is-${ICON_SIZES.has(node.iconSize) ? node.iconSize : 'md'}`;
  if (node.iconStart) b.append(icon(node.iconStart, iconCls));
  if (node.label) b.append(el('span', 'tkw-button-label', { text: node.label }));
  if (node.iconEnd) b.append(icon(node.iconEnd, iconCls));
  if (!node.label) b.setAttribute('aria-label', humanize(node.iconStart || node.iconEnd) || 'Button');
  if (node.uniform) b.classList.add('tkw-uniform');
  if (node.disabled) b.disabled = true;
  b.addEventListener('click', () => {
    // a submit button inside a form submits it (the form's handler fires)
    if (!(node.submit && b.form)) fire(node.onClickAction, b);
  });
  return b;
}

function Input(node) {
  const type = ['number', 'email', 'text', 'password', 'tel', 'url'].includes(node.inputType) ? node.inputType : 'text';
  const f = el('input', `tkw-input tkw-ctl ${variantClass(node, 'outline')}`, { type });
  applyControl(f, node);
  return textField(f, node, String(node.defaultValue ?? ''));
}

function Textarea(node) {
  const f = el('textarea', `tkw-input tkw-ctl tkw-textarea ${variantClass(node, 'outline')}`);
  applyControl(f, node);
  if (node.rows > 0) f.rows = node.rows;
  textField(f, node, String(node.defaultValue ?? ''));
  if (node.autoResize) {
    const fit = () => {
      f.style.height = 'auto';
      const line = parseFloat(getComputedStyle(f).lineHeight) || 20;
      const max = node.maxRows > 0 ? node.maxRows * line + 16 : Infinity;
      f.style.height = `${Math.min(f.scrollHeight + 2, max)}px`;
    };
    f.addEventListener('input', fit);
    f.__tkwMounted = fit;
  }
  return f;
}

/** A wrapper with the control and, when clearable, a clear button. */
function withClear(node, control, onClear) {
  const wrap = el('span', 'tkw-field-wrap');
  applyControl(wrap, node);
  wrap.append(control);
  if (node.clearable) {
    const clear = el('button', 'tkw-clear', { type: 'button', 'aria-label': 'Clear' });
    clear.append(icon('plus'));
    clear.disabled = Boolean(node.disabled);
    clear.addEventListener('click', () => {
      if (!control.value) return;
      control.value = '';
      control.__tkwDirty = true;
      onClear();
      control.focus();
    });
    wrap.append(clear);
  }
  return wrap;
}

function onChange(node, f, value) {
  if (node.onChangeAction) fire(node.onChangeAction, f, { [node.name]: value() });
}

function Select(node) {
  const f = el('select', `tkw-select tkw-ctl ${variantClass(node, 'outline')}`);
  const value = String(node.defaultValue ?? '');
  if (!value || node.placeholder || node.clearable) f.append(el('option', '', { value: '', text: node.placeholder || 'Select…' }));
  for (const option of Array.isArray(node.options) ? node.options : []) {
    if (!isObject(option)) continue;
    const text = option.description ? `${option.label} — ${option.description}` : option.label;
    const o = el('option', '', { value: option.value, text, disabled: Boolean(option.disabled) });
    f.append(o);
  }
  f.value = value;
  field(f, node, node.placeholder, value);
  const current = () => f.value || null;
  f.addEventListener('change', () => onChange(node, f, current));
  return withClear(node, f, () => onChange(node, f, current));
}

const dateOf = (v) => (typeof v === 'string' ? v.slice(0, 10) : '');

function DatePicker(node) {
  const f = el('input', `tkw-input tkw-date tkw-ctl ${variantClass(node, 'outline')}`, { type: 'date' });
  if (node.min) f.min = dateOf(node.min);
  if (node.max) f.max = dateOf(node.max);
  if (node.placeholder) f.title = node.placeholder;
  f.value = dateOf(node.defaultValue);
  field(f, node, node.placeholder, f.value);
  const current = () => f.value || null;
  f.addEventListener('change', () => onChange(node, f, current));
  return withClear(node, f, () => onChange(node, f, current));
}

function Checkbox(node) {
  const wrap = el('label', 'tkw-check');
  const f = el('input', '', { type: 'checkbox' });
  f.checked = Boolean(node.defaultChecked);
  field(f, node, node.label ? null : '', f.checked);
  f.addEventListener('change', () => onChange(node, f, () => f.checked));
  wrap.append(f);
  if (node.label) wrap.append(el('span', '', { text: node.label }));
  if (node.disabled) wrap.classList.add('tkw-disabled');
  return wrap;
}

function RadioGroup(node) {
  const group = el('div', `tkw-radios tkw-${node.direction === 'row' ? 'row' : 'col'}`, { role: 'radiogroup' });
  group.dataset.tkwName = node.ariaLabel || humanize(node.name) || 'Options';
  if (node.required) group.setAttribute('aria-required', 'true');
  if (node.disabled) group.setAttribute('aria-disabled', 'true');
  const radioName = uid('tkw-radio');
  for (const option of Array.isArray(node.options) ? node.options : []) {
    if (!isObject(option)) continue;
    const label = el('label', 'tkw-check');
    const f = el('input', '', { type: 'radio', name: radioName, value: option.value });
    f.checked = node.defaultValue !== undefined && option.value === node.defaultValue;
    field(f, { ...node, disabled: node.disabled || option.disabled, autoFocus: false }, null, f.checked);
    f.addEventListener('change', () => f.checked && onChange(node, f, () => f.value));
    label.append(f, el('span', '', { text: option.label }));
    if (f.disabled) label.classList.add('tkw-disabled');
    group.append(label);
  }
  return group;
}

/** Text with `editable`: an input styled as the text, a field of its form. */
export function editable(node) {
  const opts = node.editable;
  const f = el('input', `tkw-text tkw-editable tkw-ts-${node.size || 'md'}`, { type: 'text' });
  return textField(f, { ...opts, name: opts.name }, String(node.value ?? ''));
}

/** Link each Label to its field (by name) and name the fields no Label names. */
export function linkLabels(root) {
  const labelled = new Set();
  for (const label of root.querySelectorAll('label[data-tkw-for]')) {
    const name = label.dataset.tkwFor;
    const f = [...root.querySelectorAll('[data-tkw-field]')].find((x) => x.dataset.tkwField === name);
    if (!f) continue;
    if (f.type === 'radio') {
      const group = f.closest('[role="radiogroup"]');
      label.id ||= uid();
      group.setAttribute('aria-labelledby', label.id);
      labelled.add(group);
    } else {
      label.htmlFor = f.id;
      labelled.add(f);
    }
  }
  for (const f of root.querySelectorAll('[data-tkw-name]')) {
    if (labelled.has(f)) f.removeAttribute('aria-label');
    else f.setAttribute('aria-label', f.dataset.tkwName);
  }
}

register({ Button, Input, Textarea, Select, DatePicker, Checkbox, RadioGroup });
