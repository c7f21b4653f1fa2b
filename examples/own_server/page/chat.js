// <threadkit-chat> against this app's own POST /chatkit. The app authenticates its
// users itself, so the component gets a `fetch` that adds the app's credentials and no
// getClientSecret. Here the X-User header stands in for that (never trust it in a real
// app: a session cookie, or your own token, would be checked on the server).
import '/ui/threadkit-chat.js';

const user = new URLSearchParams(window.location.search).get('user') || 'alice';

function withUser(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('X-User', user);
  return fetch(input, { ...init, headers });
}

document.querySelector('threadkit-chat').setOptions({
  api: { url: '/chatkit', fetch: withUser },
  history: { enabled: true },
  composer: { placeholder: `Message as ${user}` },
});
