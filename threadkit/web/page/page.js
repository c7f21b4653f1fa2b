// The page at `/`: signs in (a one-time token from the URL, else a project API key),
// lets one pick a workflow and a user name, creates ChatKit sessions with the REST API
// and hands their secrets to <threadkit-chat>. Secrets live in this module's variables
// only: never in localStorage, sessionStorage, cookies or the URL.

import { colorScheme, wireTheme } from './theme.js';

const COMPONENT = '/ui/threadkit-chat.js';
const BETA = { 'OpenAI-Beta': 'chatkit_beta=v1' };
// A person at a chat makes a few requests a minute; history and paging make more.
const RATE_LIMIT = 300;

const $ = (id) => document.getElementById(id);
const els = {
  signIn: $('sign-in'),
  signInForm: $('sign-in-form'),
  signInError: $('sign-in-error'),
  apiKey: $('api-key'),
  chatAs: $('chat-as'),
  user: $('user'),
  workflow: $('workflow'),
  theme: $('theme'),
  signOut: $('sign-out'),
  status: $('status'),
  slot: $('chat-slot'),
};

/** What the page knows; `apiKey` is the only secret it holds. */
const state = { apiKey: null, project: null, chat: null, options: null, generation: 0 };

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function callJson(url, init) {
  const response = await fetch(url, { ...init, credentials: 'omit', cache: 'no-store' });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message || `${response.status} ${response.statusText}`;
    throw new HttpError(response.status, message);
  }
  return body;
}

function withKey(extra = {}) {
  return { Authorization: `Bearer ${state.apiKey}`, ...BETA, ...extra };
}

function setStatus(text) {
  els.status.textContent = text;
}

// --- signing in ---------------------------------------------------------------------------

/** The `?token=` of the URL, removed from the address bar and the history at once. */
function takeToken() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token !== null) {
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  return token;
}

async function exchangeToken(token) {
  const body = await callJson('/ui/api/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  return body;
}

function showSignIn(message = '') {
  stopChat();
  state.apiKey = null;
  state.project = null;
  els.chatAs.hidden = true;
  els.signOut.hidden = true;
  els.signIn.hidden = false;
  els.signInError.textContent = message;
  setStatus('');
  els.apiKey.focus();
}

async function signedIn(apiKey, project, wanted) {
  state.apiKey = apiKey;
  state.project = project;
  let listed;
  try {
    listed = await callJson('/ui/api/workflows', { headers: withKey() });
  } catch (error) {
    showSignIn(
      error.status === 401 ? 'That API key is not valid here.' : `Could not sign in: ${error.message}`,
    );
    return;
  }
  fillWorkflows(listed, wanted.workflow);
  els.user.value = wanted.user || els.user.value || 'guest';
  els.signIn.hidden = true;
  els.signInError.textContent = '';
  els.apiKey.value = '';
  els.chatAs.hidden = false;
  els.signOut.hidden = false;
  await startChat();
}

function fillWorkflows(listed, wanted) {
  els.workflow.replaceChildren();
  for (const workflow of listed.data) {
    const option = document.createElement('option');
    option.value = workflow.name;
    option.textContent = workflow.name;
    option.title = `${workflow.name}: a ${workflow.kind} workflow`;
    els.workflow.append(option);
  }
  const names = listed.data.map((w) => w.name);
  els.workflow.value = names.includes(wanted) ? wanted : listed.default || names[0] || '';
}

// --- the chat -----------------------------------------------------------------------------

/** A new session for the chosen user and workflow; resolves to its client secret. */
async function createSession(user, workflow) {
  const session = await callJson('/v1/chatkit/sessions', {
    method: 'POST',
    headers: withKey({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({
      user,
      workflow: { id: workflow },
      rate_limits: { max_requests_per_1_minute: RATE_LIMIT },
      chatkit_configuration: { file_upload: { enabled: true } },
    }),
  });
  return session.client_secret;
}

function stopChat() {
  state.generation += 1;
  state.chat?.remove();
  state.chat = null;
  state.options = null;
}

async function startChat() {
  stopChat();
  const generation = state.generation;
  const user = els.user.value.trim() || 'guest';
  const workflow = els.workflow.value;
  setStatus(`Starting a chat with ${workflow} as ${user}…`);
  // The first session is made while the component loads; later ones when it asks.
  let first = createSession(user, workflow);
  first.catch(() => {});
  const loading = import(COMPONENT).then(
    () => true,
    () => false,
  );
  const getClientSecret = (current) => {
    if (!current && first) {
      const secret = first;
      first = null;
      return secret;
    }
    return createSession(user, workflow).catch((error) => {
      if (error.status === 401) showSignIn('The API key stopped working. Sign in again.');
      throw error;
    });
  };
  try {
    await first;
  } catch (error) {
    if (generation !== state.generation) return;
    if (error.status === 401) {
      showSignIn('The API key stopped working. Sign in again.');
    } else {
      setStatus(`Could not start a chat: ${error.message}`);
    }
    return;
  }
  const loaded = await loading;
  if (generation !== state.generation) return;
  if (!loaded) {
    setStatus('The chat component could not be loaded from the server.');
    return;
  }
  if (generation !== state.generation) return;
  const chat = document.createElement('threadkit-chat');
  state.options = {
    api: { url: '/chatkit', getClientSecret },
    theme: { colorScheme: colorScheme() },
    history: { enabled: true },
    // the sessions allow uploads (createSession), so the composer offers them
    composer: { placeholder: `Message ${workflow}`, attachments: { enabled: true } },
  };
  chat.addEventListener('chatkit.ready', () => setStatus(''), { once: true });
  els.slot.append(chat);
  state.chat = chat;
  chat.setOptions(state.options);
}

// --- theme --------------------------------------------------------------------------------

function themeChanged(scheme) {
  if (state.chat && state.options) {
    // The same api object: the component keeps the open thread.
    state.options = { ...state.options, theme: { ...state.options.theme, colorScheme: scheme } };
    state.chat.setOptions(state.options);
  }
}

// --- wiring -------------------------------------------------------------------------------

function main() {
  const params = new URLSearchParams(window.location.search);
  // ?user= and ?workflow= preset the picker (links to a given chat)
  const wanted = { user: params.get('user') || '', workflow: params.get('workflow') || '' };
  wireTheme(els.theme, themeChanged);
  els.signOut.addEventListener('click', () => showSignIn());
  els.chatAs.addEventListener('submit', (event) => {
    event.preventDefault();
    startChat();
  });
  els.signInForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const key = els.apiKey.value.trim();
    if (!key) return;
    els.signInError.textContent = '';
    await signedIn(key, null, wanted);
  });

  const token = takeToken();
  if (token === null) {
    showSignIn();
    return;
  }
  exchangeToken(token).then(
    (login) => signedIn(login.api_key, login.project, wanted),
    (error) =>
      showSignIn(
        error.status === 401
          ? 'That sign-in link was already used (or is unknown). Sign in with a project API ' +
              'key, or start the server again for a new link.'
          : `Could not sign in: ${error.message}`,
      ),
  );
}

main();
