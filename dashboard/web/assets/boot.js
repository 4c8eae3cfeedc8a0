// Starts the dashboard once every script has run (scripts are deferred, so
// the document is parsed): learns the session, then starts the router.
'use strict';

(function (G) {
  // Nothing may end as an unhandled rejection or an uncaught error: show it.
  window.addEventListener('unhandledrejection', (e) => {
    e.preventDefault();
    G.showError(e.reason);
  });

  function showSession(s) {
    const box = document.getElementById('session');
    if (!s || !s.auth) {
      box.hidden = true;
      return;
    }
    // A token may be limited to one cluster (the token file's 4th column).
    const about = [s.role, s.cluster ? 'cluster ' + s.cluster : ''].filter(Boolean).join(', ');
    document.getElementById('session-user').textContent = (s.name || 'signed in') + (about ? ` (${about})` : '');
    box.hidden = false;
  }

  document.getElementById('logout').addEventListener('click', () => {
    G.api('/logout', { method: 'POST', noLoginRedirect: true, anyBody: true })
      .then(() => location.assign('/login'))
      .catch((err) => G.showError(err));
  });

  async function boot() {
    // GET /api/session: {auth, name, role, canPlan}. The login page needs
    // none (and a 401 would only send us back to it).
    if (location.pathname !== '/login') {
      try {
        G.session = await G.api('/api/session');
        showSession(G.session);
      } catch (err) {
        // A 401 has already moved the address to /login; anything else is
        // shown, and the pages try on their own.
        G.showError(err);
      }
    }
    G.startRouter();
  }

  boot();
})(window.G);
