// Containers and roots: Box, Row, Col, Form, Transition, Card, ListView,
// ListViewItem and Basic.

import { fire } from './actions.js';
import { ctx, mountKids, register } from './core.js';
import { el, isObject } from './dom.js';
import { hasIcon, icon } from './icons.js';
import { applyBox, applySpacing, color } from './style.js';

function flex(tag, direction, node) {
  const e = el(tag, `tkw-flex tkw-${direction}`);
  applyBox(e, node);
  mountKids(e, e, node.children);
  return e;
}

const Box = (node) => flex('div', node.direction === 'row' ? 'row' : 'col', node);
const Row = (node) => flex('div', 'row', node);
const Col = (node) => flex('div', 'col', node);

/** Submit: the form's onSubmitAction (or, without one, the submit button's own). */
function onSubmit(form, actionOf) {
  form.noValidate = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    event.stopPropagation();
    const submitter = event.submitter && form.contains(event.submitter) ? event.submitter : form;
    const config = actionOf(submitter);
    if (config) fire(config, submitter);
  });
}

function Form(node) {
  const form = flex('form', node.direction === 'row' ? 'row' : 'col', node);
  onSubmit(form, (submitter) => node.onSubmitAction || submitter.__tkwNode?.onClickAction);
  return form;
}

function Transition(node) {
  const e = el('div', 'tkw-transition');
  mountKids(e, e, node.children);
  let shown = e.__tkwKids[0];
  e.__tkwRefresh = () => {
    const now = e.__tkwKids[0];
    if (now && now !== shown && !matchMedia('(prefers-reduced-motion: reduce)').matches) {
      now.animate([{ opacity: 0, transform: 'translateY(4px)' }, { opacity: 1, transform: 'none' }], { duration: 180, easing: 'ease-out' });
    }
    shown = now;
  };
  return e;
}

/** The status line above a card or list: `{text, icon}` or `{text, favicon, frame}`. */
function status(value) {
  if (!isObject(value) || typeof value.text !== 'string') return null;
  const e = el('div', 'tkw-status');
  if (typeof value.favicon === 'string' && ctx()?.isImageAllowed?.(value.favicon)) {
    const img = el('img', `tkw-favicon${value.frame ? ' tkw-frame' : ''}`, { alt: '' });
    img.src = value.favicon;
    e.append(img);
  } else if (value.icon && hasIcon(value.icon)) e.append(icon(value.icon, 'tkw-is-sm'));
  e.append(el('span', '', { text: value.text }));
  return e;
}

function theme(e, node) {
  if (node.theme === 'dark' || node.theme === 'light') e.classList.add(`tkw-theme-${node.theme}`);
}

function footerButton(label, config, kind, submit) {
  const b = el('button', `tkw-button tkw-ctl tkw-card-${kind} ${kind === 'confirm' ? 'tkw-tone-primary tkw-v-solid' : 'tkw-tone-secondary tkw-v-outline'}`, {
    type: submit ? 'submit' : 'button',
    text: label,
  });
  if (!submit) b.addEventListener('click', () => fire(config, b));
  return b;
}

function Card(node) {
  const asForm = Boolean(node.asForm);
  const card = el(asForm ? 'form' : 'div', `tkw-card tkw-card-${['sm', 'md', 'lg', 'full'].includes(node.size) ? node.size : 'md'}`);
  theme(card, node);
  const bg = color(node.background, 'surface');
  if (bg) card.style.background = bg;
  const head = status(node.status);
  if (head) card.append(head);
  const body = el('div', 'tkw-card-body tkw-flex tkw-col');
  if (node.padding !== undefined) applySpacing(body.style, 'padding', node.padding);
  card.append(body);
  mountKids(card, body, node.children);
  const actions = [node.cancel, node.confirm].filter((a) => isObject(a) && isObject(a.action));
  if (actions.length) {
    const footer = el('div', 'tkw-card-footer');
    if (isObject(node.cancel?.action)) footer.append(footerButton(node.cancel.label, node.cancel.action, 'cancel', false));
    if (isObject(node.confirm?.action)) footer.append(footerButton(node.confirm.label, node.confirm.action, 'confirm', asForm));
    card.append(footer);
  }
  if (asForm) onSubmit(card, (submitter) => (submitter.classList.contains('tkw-card-confirm') || submitter === card ? node.confirm?.action : submitter.__tkwNode?.onClickAction));
  if (node.collapsed) {
    // collapse the body once the main action is done; a toggle shows it again
    card.__tkwAfterAction = (config) => {
      if (config !== node.confirm?.action || card.querySelector('.tkw-card-toggle')) return;
      const toggle = el('button', 'tkw-card-toggle', { type: 'button', 'aria-expanded': 'false', text: 'Show details' });
      toggle.addEventListener('click', () => {
        const open = card.classList.toggle('tkw-collapsed') === false;
        toggle.setAttribute('aria-expanded', String(open));
        toggle.textContent = open ? 'Hide details' : 'Show details';
      });
      card.classList.add('tkw-collapsed');
      card.insertBefore(toggle, body);
    };
  }
  return card;
}

const AUTO_LIMIT = 5;

function ListView(node) {
  const e = el('div', 'tkw-listview');
  theme(e, node);
  const head = status(node.status);
  if (head) e.append(head);
  const list = el('ul', 'tkw-list', { role: 'list' });
  e.append(list);
  mountKids(e, list, node.children);
  const limit = node.limit === 'auto' ? AUTO_LIMIT : Number.isInteger(node.limit) && node.limit > 0 ? node.limit : Infinity;
  const more = el('button', 'tkw-more', { type: 'button' });
  let expanded = false;
  more.addEventListener('click', () => {
    expanded = true;
    e.__tkwRefresh();
    e.__tkwKids[limit]?.querySelector('[tabindex="0"], button, input, select, textarea')?.focus();
  });
  e.__tkwRefresh = () => {
    const kids = e.__tkwKids;
    kids.forEach((kid, i) => (kid.hidden = !expanded && i >= limit));
    const hidden = expanded ? 0 : Math.max(0, kids.length - limit);
    more.hidden = hidden === 0;
    more.textContent = `Show ${hidden} more`;
  };
  e.append(more);
  e.__tkwRefresh();
  return e;
}

const INTERACTIVE = 'button, input, select, textarea, a[href], [tabindex]';

function ListViewItem(node) {
  const item = el('li', 'tkw-item');
  const inner = el('div', 'tkw-item-inner tkw-flex tkw-row');
  applyBox(inner, { gap: node.gap, align: node.align ?? 'center' });
  item.append(inner);
  mountKids(item, inner, node.children);
  if (isObject(node.onClickAction)) {
    inner.dataset.tkwItem = '';
    inner.classList.add('tkw-clickable');
    const go = () => fire(node.onClickAction, inner);
    inner.addEventListener('click', (event) => {
      const hit = event.target.closest(INTERACTIVE);
      if (!hit || hit === inner) go();
    });
    // a focusable row only when it holds no control of its own (no nested interactives)
    if (!inner.querySelector(INTERACTIVE)) {
      inner.setAttribute('role', 'button');
      inner.tabIndex = 0;
      inner.addEventListener('keydown', (event) => {
        if (event.target !== inner || (event.key !== 'Enter' && event.key !== ' ')) return;
        event.preventDefault();
        go();
      });
    }
  }
  return item;
}

function Basic(node) {
  const e = flex('div', node.direction === 'row' ? 'row' : 'col', node);
  e.classList.add('tkw-basic');
  theme(e, node);
  return e;
}

register({ Box, Row, Col, Form, Transition, Card, ListView, ListViewItem, Basic });
