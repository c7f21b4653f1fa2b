// Markdown for assistant messages, notices and widgets: marked turns the text into
// HTML, DOMPurify keeps only inert markup, and a last pass fixes links and images.
//
// What comes out can never run code or reach another origin by itself: raw HTML in
// the markdown is shown as text, no script, style or event handler survives, links
// are http(s)/mailto/tel only and open in a new tab without a referrer, and an image
// stays only when `isImageAllowed(src)` says so (otherwise its alt text is shown).

import { Marked } from '../vendor/marked/marked.esm.js';
import createDOMPurify from '../vendor/dompurify/purify.es.mjs';

const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:', 'tel:']);

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    // Raw HTML is shown as typed, never interpreted.
    html({ text }) {
      return escapeHtml(text);
    },
    // A task list's box as a glyph: a disabled <input> without a label helps nobody.
    checkbox({ checked }) {
      return checked ? '\u2611 ' : '\u2610 ';
    },
  },
});

const purify = createDOMPurify(window);
const SANITIZE = {
  RETURN_DOM_FRAGMENT: true,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  FORBID_TAGS: [
    'style', 'form', 'input', 'button', 'textarea', 'select', 'option', 'iframe', 'frame',
    'object', 'embed', 'video', 'audio', 'source', 'track', 'picture', 'svg', 'math',
    'link', 'meta', 'base', 'template', 'dialog',
  ],
  // `style` would break the page's CSP (and log an error); ids and names could
  // collide with the component's own.
  FORBID_ATTR: ['style', 'srcset', 'id', 'name', 'class', 'background', 'poster', 'formaction'],
};

/** Whether `href` may be followed: http(s), mailto and tel, relative ones included. */
export function isLinkAllowed(href) {
  try {
    return LINK_PROTOCOLS.has(new URL(href, document.baseURI).protocol);
  } catch {
    return false;
  }
}

/**
 * Whether an image at `src` may be shown: the page's own origin, data: and blob: URLs,
 * or a host listed in `allowedDomains` (the thread's `allowed_image_domains`; a domain
 * also admits its subdomains).
 */
export function isImageAllowed(src, allowedDomains = []) {
  let url;
  try {
    url = new URL(src, document.baseURI);
  } catch {
    return false;
  }
  if (url.protocol === 'blob:') return true;
  if (url.protocol === 'data:') return /^data:image\//i.test(url.href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.origin === window.location.origin) return true;
  const host = url.hostname.toLowerCase();
  return (allowedDomains || []).some((domain) => {
    const d = String(domain).toLowerCase().replace(/^\*?\./, '');
    return d && (host === d || host.endsWith(`.${d}`));
  });
}

function fixUp(fragment, allowImage) {
  for (const a of fragment.querySelectorAll('a')) {
    const href = a.getAttribute('href');
    if (href === null || !isLinkAllowed(href)) {
      a.removeAttribute('href');
    } else {
      a.setAttribute('rel', 'noopener noreferrer');
      a.setAttribute('target', '_blank');
    }
  }
  for (const img of fragment.querySelectorAll('img')) {
    const src = img.getAttribute('src');
    if (src && allowImage(src)) {
      img.setAttribute('loading', 'lazy');
      img.setAttribute('referrerpolicy', 'no-referrer');
      if (!img.hasAttribute('alt')) img.setAttribute('alt', '');
    } else {
      img.replaceWith(document.createTextNode(img.getAttribute('alt') || ''));
    }
  }
  return fragment;
}

/**
 * A sanitized DocumentFragment of `text` rendered as markdown. `allowImage(src)`
 * decides which images stay (default: same origin, data: and blob: only).
 */
export function renderMarkdown(text, allowImage = (src) => isImageAllowed(src)) {
  const html = marked.parse(String(text ?? ''));
  // The fragment still belongs to DOMPurify's inert document here, so nothing in it
  // has been fetched yet: images are decided on before it joins the page.
  const fragment = purify.sanitize(html, SANITIZE);
  return document.importNode(fixUp(fragment, allowImage), true);
}

/**
 * Markdown that streams into `element`: `set(text)` records the latest text, and the
 * element is rendered again at most once per animation frame (every delta that
 * arrived within the frame is painted together, on that frame).
 */
export class StreamedMarkdown {
  constructor(element, allowImage) {
    this.element = element;
    this.allowImage = allowImage;
    this.text = '';
    this.painted = null;
    this.frame = 0;
  }

  set(text) {
    this.text = text;
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** Paints the latest text now (when the message is done, or on a first render). */
  flush() {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (this.painted === this.text) return;
    this.painted = this.text;
    this.element.replaceChildren(renderMarkdown(this.text, this.allowImage));
  }
}
