// The options of <threadkit-chat>: ChatKit.js's `ChatKitOptions` names (from the
// `@openai/chatkit` type definitions), what is unknown, and the defaults.

// `true`: any value; an object: the names known inside it.
const KNOWN = {
  api: { url: true, getClientSecret: true, fetch: true, domainKey: true, uploadStrategy: true },
  locale: true,
  theme: { colorScheme: true, typography: true, radius: true, density: true, color: true },
  frameTitle: true,
  initialThread: true,
  onClientTool: true,
  header: { enabled: true, title: { enabled: true, text: true }, leftAction: true, rightAction: true },
  history: { enabled: true, showDelete: true, showRename: true },
  startScreen: { greeting: true, prompts: true },
  threadItemActions: { feedback: true, retry: true },
  composer: {
    placeholder: true,
    attachments: { enabled: true, maxSize: true, maxCount: true, accept: true },
    tools: true,
    models: true,
    dictation: true,
  },
  disclaimer: { text: true, highContrast: true },
  entities: { onTagSearch: true, showComposerMenu: true, onClick: true, onRequestPreview: true },
  commands: { enabled: true, onSearch: true, onSelect: true },
  widgets: { onAction: true },
  thread: { autoScroll: true },
};

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Dotted names of the options that ChatKitOptions does not have. */
export function unknownOptions(options, known = KNOWN, prefix = '') {
  const unknown = [];
  if (!isObject(options)) return unknown;
  for (const [name, value] of Object.entries(options)) {
    const spec = known[name];
    const path = prefix + name;
    if (spec === undefined) unknown.push(path);
    else if (isObject(spec) && isObject(value)) unknown.push(...unknownOptions(value, spec, `${path}.`));
  }
  return unknown;
}

export const DEFAULT_GREETING = 'What can I help with today?';
export const DEFAULT_PLACEHOLDER = 'Message the AI';
const MB = 1024 * 1024;

/** The options resolved to what the component uses, every default filled in. */
export function resolveOptions(options) {
  const o = isObject(options) ? options : {};
  const theme = typeof o.theme === 'string' ? { colorScheme: o.theme } : o.theme || {};
  const header = o.header || {};
  const history = o.history || {};
  const start = o.startScreen || {};
  const actions = o.threadItemActions || {};
  const composer = o.composer || {};
  const attachments = composer.attachments || {};
  return {
    api: o.api || {},
    theme: {
      colorScheme: theme.colorScheme === 'dark' ? 'dark' : 'light',
      radius: theme.radius || 'round',
      density: theme.density || 'normal',
      baseSize: theme.typography?.baseSize,
      fontFamily: theme.typography?.fontFamily,
      fontFamilyMono: theme.typography?.fontFamilyMono,
      accent: theme.color?.accent?.primary,
      surface: theme.color?.surface,
    },
    frameTitle: o.frameTitle || 'Chat',
    initialThread: o.initialThread ?? null,
    onClientTool: typeof o.onClientTool === 'function' ? o.onClientTool : null,
    header: {
      enabled: header.enabled !== false,
      titleEnabled: header.title?.enabled !== false,
      titleText: header.title?.text ?? null,
      leftAction: header.leftAction || null,
      rightAction: header.rightAction || null,
    },
    history: {
      enabled: history.enabled !== false,
      showDelete: history.showDelete !== false,
      showRename: history.showRename !== false,
    },
    startScreen: {
      greeting: start.greeting ?? DEFAULT_GREETING,
      prompts: Array.isArray(start.prompts) ? start.prompts : [],
    },
    feedback: actions.feedback === true,
    retry: actions.retry === true,
    composer: {
      placeholder: composer.placeholder ?? DEFAULT_PLACEHOLDER,
      attachments: {
        enabled: attachments.enabled === true,
        maxSize: attachments.maxSize ?? 100 * MB,
        maxCount: attachments.maxCount ?? 10,
        accept: isObject(attachments.accept) ? attachments.accept : null,
      },
      tools: Array.isArray(composer.tools) ? composer.tools : [],
      models: Array.isArray(composer.models) ? composer.models : [],
    },
    disclaimer: o.disclaimer?.text ? { text: String(o.disclaimer.text), highContrast: !!o.disclaimer.highContrast } : null,
    onAction: typeof o.widgets?.onAction === 'function' ? o.widgets.onAction : null,
    autoScroll: o.thread?.autoScroll === true,
  };
}

/** The largest size (bytes) `maxSize` allows for a file of `mimeType`. */
export function maxSizeFor(maxSize, mimeType) {
  if (typeof maxSize === 'number') return maxSize;
  if (!isObject(maxSize)) return 100 * MB;
  const fallback = maxSize['*'] ?? maxSize[''] ?? 100 * MB;
  for (const [pattern, limit] of Object.entries(maxSize)) {
    if (pattern === '*' || pattern === '') continue;
    if (mimeMatches(pattern, mimeType)) return limit;
  }
  return fallback;
}

export function mimeMatches(pattern, mimeType) {
  const p = pattern.toLowerCase();
  const m = (mimeType || '').toLowerCase();
  return p.endsWith('/*') ? m.startsWith(p.slice(0, -1)) : p === m;
}

/** Whether a file passes `accept` ({mime pattern: [extensions]}); no accept: any. */
export function accepted(accept, file) {
  if (!accept) return true;
  const name = file.name.toLowerCase();
  return Object.entries(accept).some(
    ([pattern, exts]) =>
      mimeMatches(pattern, file.type) ||
      (Array.isArray(exts) && exts.some((ext) => name.endsWith(String(ext).toLowerCase()))),
  );
}

/** `accept` as an <input type=file accept> value. */
export function acceptAttribute(accept) {
  if (!accept) return null;
  const parts = [];
  for (const [pattern, exts] of Object.entries(accept)) {
    parts.push(pattern, ...(Array.isArray(exts) ? exts : []));
  }
  return parts.join(',');
}
