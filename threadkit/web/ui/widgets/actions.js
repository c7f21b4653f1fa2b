// Actions: the values of the enclosing form merged into the payload, handed to
// ctx.dispatch, and the loading state shown while its promise is pending:
// `self` marks the component that fired, `container` the whole widget, `none`
// nothing; `auto` is `self` for buttons and list items, `container` otherwise.
// While a component (or its widget) is busy it fires nothing more.

import { isObject } from './dom.js';

const FORM = 'form, [data-tkw-form]';

/** The values of the fields in `scope`, by name: text as strings, checkboxes as
 * booleans, radio groups and selects/date pickers as strings or null when empty. */
export function formValues(scope) {
  const values = {};
  for (const f of scope.querySelectorAll('[data-tkw-field]')) {
    const name = f.dataset.tkwField;
    if (f.type === 'checkbox') values[name] = f.checked;
    else if (f.type === 'radio') {
      if (!(name in values)) values[name] = null;
      if (f.checked) values[name] = f.value;
    } else if (f.tagName === 'SELECT' || f.type === 'date') values[name] = f.value || null;
    else values[name] = f.value;
  }
  return values;
}

function merged(payload, values) {
  if (!values) return payload ?? null;
  if (payload === undefined || payload === null) return values;
  return isObject(payload) ? { ...payload, ...values } : payload;
}

function setBusy(node, on) {
  node.classList.toggle('tkw-busy', on);
  if (on) node.setAttribute('aria-busy', 'true');
  else node.removeAttribute('aria-busy');
}

/**
 * Fire the ActionConfig `config` from `source`. `own`: values of the firing field
 * ({name: value}) merged after the form's. Returns a promise that settles when
 * ctx.dispatch's does (its errors are the host's to report; they end the loading state).
 */
export function fire(config, source, own = null) {
  const root = source.closest('.tkw-root');
  if (!isObject(config) || typeof config.type !== 'string' || !root?.__tkw) return Promise.resolve();
  if (source.closest('[aria-busy="true"]')) return Promise.resolve();
  const scope = source.closest(FORM);
  let values = scope && root.contains(scope) ? formValues(scope) : null;
  if (own) values = { ...values, ...own };
  const action = { ...config, payload: merged(config.payload, values) };
  let behavior = config.loadingBehavior || 'auto';
  if (behavior === 'auto') behavior = source.matches('button, [data-tkw-item]') ? 'self' : 'container';
  const target = behavior === 'self' ? source : behavior === 'container' ? root : null;
  if (target) setBusy(target, true);
  let pending;
  try {
    pending = Promise.resolve(root.__tkw.ctx.dispatch(action, source));
  } catch (error) {
    pending = Promise.reject(error);
  }
  return pending.then(
    () => {
      if (target) setBusy(target, false);
      source.closest('[data-widget="Card"]')?.__tkwAfterAction?.(config);
    },
    () => target && setBusy(target, false),
  );
}
