// The light/dark theme of threadkit's pages (the chat page and the console): the
// system's preference until the toggle is used, then the person's choice.

/** The theme shown now: 'dark' or 'light'. */
export function colorScheme() {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

/**
 * Shows `scheme` on the document and the toggle button, then calls `onChange(scheme)`;
 * follows the system's preference until `button` is clicked.
 */
export function wireTheme(button, onChange = () => {}) {
  const apply = (scheme) => {
    document.documentElement.dataset.theme = scheme;
    // A toggle keeps its name ("Dark theme"); aria-pressed and the switch show its state.
    button.setAttribute('aria-pressed', String(scheme === 'dark'));
    onChange(scheme);
  };
  const system = window.matchMedia?.('(prefers-color-scheme: dark)');
  let chosen = false;
  apply(system?.matches ? 'dark' : 'light');
  system?.addEventListener('change', (event) => {
    if (!chosen) apply(event.matches ? 'dark' : 'light');
  });
  button.addEventListener('click', () => {
    chosen = true;
    apply(colorScheme() === 'dark' ? 'light' : 'dark');
  });
}
