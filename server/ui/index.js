// Sign-in page: exchanges the credential in the URL fragment (never sent to
// the server in a URL) for an HttpOnly session cookie, then removes it from
// the address bar and lists the user's workspaces.
(async function () {
  const status = document.getElementById('status');
  const api = (path, opts = {}) => fetch(path, {
    credentials: 'same-origin',
    ...opts,
    headers: { 'X-Requested-With': 'ideserver', 'Content-Type': 'application/json', ...(opts.headers || {}) },
  });
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) {
    history.replaceState(null, '', location.pathname);
    const r = await api('/auth/session', { method: 'POST', headers: { Authorization: 'Bearer ' + token } });
    if (!r.ok) { status.textContent = 'The link\'s credential was refused; ask for a new one.'; return; }
  }
  const me = await api('/api/v1/me');
  if (!me.ok) { status.textContent = 'Not signed in: open the URL ideserver printed at start.'; return; }
  document.getElementById('who').textContent = (await me.json()).user;
  status.hidden = true;
  document.getElementById('app').hidden = false;
  async function refresh() {
    const list = document.getElementById('workspaces');
    list.replaceChildren();
    const r = await api('/api/v1/workspaces');
    for (const w of (await r.json()).workspaces) {
      const li = document.createElement('li');
      li.textContent = `${w.name} (${w.state}) — ${w.id}`;
      list.append(li);
    }
  }
  document.getElementById('create').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = document.getElementById('name').value;
    await api('/api/v1/workspaces', { method: 'POST', body: JSON.stringify({ name, template: 'hello' }) });
    document.getElementById('name').value = '';
    refresh();
  });
  refresh();
})();
