// The operator console: a dependency-free page app over /api/v1/admin.
// Tokens live in this module's memory only (never in storage): a reload asks
// to sign in again. The httpOnly console cookie (POST /console/session) only
// opens the queue dashboard under /console/queues.

const API = '/api/v1';
const auth = { token: null, refreshToken: null, userId: null, email: null, role: null, refreshTimer: null };
const $ = (id) => document.getElementById(id);

// ---------- DOM helpers (text only: nothing from the server becomes markup) ----------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const json = (value) => h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
const time = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const enc = encodeURIComponent;
const streamHref = (stream) => `#/stream/${enc(stream)}`;
const stateHref = (stream, revision) => `#/state/${enc(stream)}${revision !== undefined ? `?at=${revision}` : ''}`;
const correlationHref = (id) => `#/correlation/${enc(id)}`;

function render(...nodes) {
  const view = $('view');
  view.replaceChildren(...nodes);
  view.hidden = false;
}

function errorBox(error) {
  return h('div', { class: 'card error', role: 'alert', 'data-testid': 'error' }, error.message || String(error));
}

// ---------- API ----------

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function request(method, path, { body, token = auth.token } = {}) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const payload = await res.json().catch(() => null);
  if (!res.ok || !payload || payload.success === false) {
    const err = payload?.error ? payload.error : { code: `HTTP_${res.status}`, message: res.statusText };
    throw new ApiError(res.status, err.code, err.message, err.details);
  }
  return payload.data;
}

/** An admin API call; a 401 refreshes the tokens once and tries again. */
async function api(method, path, options = {}) {
  try {
    return await request(method, `${API}/admin${path}`, options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && auth.refreshToken) {
      await refresh();
      return request(method, `${API}/admin${path}`, options);
    }
    if (error instanceof ApiError && error.status === 401) signedOut('Your session has ended: sign in again.');
    throw error;
  }
}

async function startConsoleSession() {
  return request('POST', '/console/session');
}

function adopt(tokens) {
  auth.token = tokens.access_token;
  auth.refreshToken = tokens.refresh_token;
  auth.userId = tokens.user_id ?? auth.userId;
  clearTimeout(auth.refreshTimer);
  const inSeconds = Math.max(30, Number(tokens.expires_in ?? 900) - 60);
  auth.refreshTimer = setTimeout(() => refresh().catch(() => signedOut('Your session has ended: sign in again.')), inSeconds * 1000);
}

async function refresh() {
  const tokens = await request('POST', `${API}/auth/refresh`, { body: { refresh_token: auth.refreshToken }, token: null });
  adopt(tokens);
  await startConsoleSession();
}

// ---------- sign in / out ----------

function showLogin(message) {
  $('nav').hidden = true;
  $('who').hidden = true;
  $('view').hidden = true;
  $('login').hidden = false;
  const error = $('login-error');
  error.hidden = !message;
  error.textContent = message || '';
}

function signedOut(message) {
  clearTimeout(auth.refreshTimer);
  Object.assign(auth, { token: null, refreshToken: null, userId: null, email: null });
  stopLive();
  showLogin(message);
}

// the login challenge (mfa_token) while the console asks for the second factor
let mfaChallenge = null;

function askForCode(challenge, methods = []) {
  mfaChallenge = challenge;
  $('login-code-field').hidden = challenge === null;
  // the account takes SMS codes: one is sent when asked for (POST /auth/login/mfa/sms-code)
  $('login-sms').hidden = challenge === null || !methods.includes('sms');
  $('login-code').required = challenge !== null;
  $('login-code').value = '';
  if (challenge !== null) $('login-code').focus();
}

/** Sends a login code by SMS for the pending challenge; says where it went (masked), or why not. */
async function sendSmsCode() {
  if (!mfaChallenge) return;
  const button = $('login-sms');
  button.disabled = true;
  try {
    const sent = await request('POST', `${API}/auth/login/mfa/sms-code`, { body: { mfa_token: mfaChallenge }, token: null });
    showLogin(`A code was sent by SMS to ${sent.sent_to}.`);
    $('login-code').focus();
  } catch (error) {
    if (String(error.details?.reason ?? '').startsWith('mfa_token')) {
      askForCode(null);
      showLogin('The sign-in has expired: enter your password again.');
    } else showLogin(error.status === 429 ? 'A code was sent a moment ago: wait a little before asking for another.' : error.message);
  } finally {
    button.disabled = false;
  }
}

/** Six digits are a TOTP or SMS code; anything else is tried as a recovery code. */
function secondFactor(typed) {
  const compact = typed.replace(/\s/g, '');
  return /^[0-9]{6}$/.test(compact) ? { code: compact } : { recovery_code: typed.trim() };
}

async function signIn(event) {
  event.preventDefault();
  const email = $('login-email').value.trim();
  const password = $('login-password').value;
  const button = $('login-submit');
  button.disabled = true;
  try {
    let tokens;
    try {
      tokens = mfaChallenge
        ? await request('POST', `${API}/auth/login/mfa`, { body: { mfa_token: mfaChallenge, ...secondFactor($('login-code').value) }, token: null })
        : await request('POST', `${API}/auth/login`, { body: { email, password }, token: null });
    } catch (error) {
      if (!mfaChallenge) showLogin(error.status === 401 || error.status === 422 ? 'Wrong email or password.' : error.message);
      else if (String(error.details?.reason ?? '').startsWith('mfa_token')) {
        askForCode(null);
        showLogin('The sign-in has expired: enter your password again.');
      } else showLogin(error.status === 401 || error.status === 422 ? 'Wrong code.' : error.message);
      return;
    }
    if (tokens.mfa_required) {
      // two-factor account: the password was right; the session starts with the second step
      const methods = Array.isArray(tokens.methods) ? tokens.methods : [];
      askForCode(tokens.mfa_token, methods);
      showLogin(
        methods.includes('totp')
          ? `Enter the code from your authenticator app${methods.includes('sms') ? ' (or send one by SMS)' : ''}, or a recovery code.`
          : 'Send a code by SMS, then enter it.',
      );
      return;
    }
    askForCode(null);
    try {
      await request('POST', '/console/session', { token: tokens.access_token });
    } catch (error) {
      // not an admin: the console refuses, and the user's tokens are dropped (their session ended)
      await request('POST', `${API}/auth/logout`, { token: tokens.access_token }).catch(() => {});
      showLogin(error.status === 403 ? 'Access denied: the console is for administrators only.' : error.message);
      return;
    }
    adopt(tokens);
    auth.email = email;
    // a reviewer's console is the review workbench only (the admin API refuses them anyway)
    auth.role = roleOf(tokens.access_token);
    for (const a of document.querySelectorAll('[data-nav]')) a.hidden = auth.role !== 'admin' && a.dataset.nav !== 'reviews';
    $('login-password').value = '';
    $('login').hidden = true;
    $('nav').hidden = false;
    $('who').hidden = false;
    $('who-name').textContent = email;
    const home = auth.role === 'admin' ? '#/streams' : '#/reviews';
    if (!location.hash || location.hash === '#/' || location.hash === '#' || (auth.role !== 'admin' && !/^#\/reviews?\b/.test(location.hash)))
      location.hash = home;
    else route();
  } finally {
    button.disabled = false;
  }
}

async function signOut() {
  const token = auth.token;
  await request('DELETE', '/console/session', { token: null }).catch(() => {});
  if (token) await request('POST', `${API}/auth/logout`, { token }).catch(() => {});
  signedOut('Signed out.');
}

// ---------- router ----------

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/streams';
  const [path, queryString = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(queryString) };
}

let routeSeq = 0;

async function route() {
  if (!auth.token) return showLogin();
  const { parts, query } = parseHash();
  const [name = 'streams', arg] = parts;
  const nav = { stream: 'streams', state: 'streams', review: 'reviews' }[name] ?? name;
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
  stopPolling();
  stopLive();
  const seq = ++routeSeq;
  const views = {
    streams: streamsView,
    stream: streamView,
    state: stateView,
    correlation: correlationView,
    projections: projectionsView,
    'dead-letters': deadLettersView,
    queues: queuesView,
    reviews: reviewsView,
    review: reviewView,
    finance: financeView,
  };
  const view = views[name] ?? streamsView;
  render(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const nodes = await view(arg, query);
    if (seq === routeSeq) render(...[nodes].flat());
  } catch (error) {
    if (seq === routeSeq) render(errorBox(error));
  }
}

// ---------- views ----------

async function streamsView(_arg, query) {
  const category = query.get('category') || '';
  const prefix = query.get('prefix') || '';
  const page = Number(query.get('page') || 1);
  const params = new URLSearchParams({ page: String(page), per_page: '25' });
  if (category) params.set('category', category);
  if (prefix) params.set('prefix', prefix);
  const [categories, streams] = await Promise.all([api('GET', '/categories'), api('GET', `/streams?${params}`)]);

  const go = (changes) => {
    const next = new URLSearchParams({ category, prefix, page: String(page), ...changes });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/streams?${next}`;
  };
  const prefixInput = h('input', { type: 'search', placeholder: 'stream name prefix, e.g. user-', value: prefix, 'data-testid': 'stream-prefix' });
  const { pagination } = streams;

  return h(
    'div',
    { class: 'layout' },
    h(
      'aside',
      { class: 'card' },
      h('h2', {}, 'Categories'),
      h(
        'ul',
        { class: 'plain', 'data-testid': 'categories' },
        h('li', {}, h('a', { href: '#/streams', class: category ? '' : 'active' }, h('span', {}, 'all'), h('span', { class: 'muted' }, ''))),
        categories.map((c) =>
          h(
            'li',
            {},
            h(
              'a',
              { href: `#/streams?category=${enc(c.category)}`, class: c.category === category ? 'active' : '', 'data-category': c.category },
              h('span', {}, c.category),
              h('span', { class: 'muted' }, `${c.streams} · ${c.events} ev`),
            ),
          ),
        ),
      ),
    ),
    h(
      'section',
      { class: 'card' },
      h('h1', {}, category ? `Streams in “${category}”` : 'Streams'),
      h(
        'form',
        {
          class: 'toolbar',
          onsubmit: (e) => {
            e.preventDefault();
            go({ prefix: prefixInput.value.trim(), page: '1' });
          },
        },
        prefixInput,
        h('button', { type: 'submit', class: 'secondary' }, 'Filter'),
        h('span', { class: 'grow' }),
        h('span', { class: 'muted' }, `${pagination.total} streams`),
      ),
      h(
        'table',
        { 'data-testid': 'streams' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Stream'), h('th', {}, 'Revision'), h('th', {}, 'Events'), h('th', {}, 'Last event'))),
        h(
          'tbody',
          {},
          streams.items.map((s) =>
            h(
              'tr',
              {},
              h('td', { class: 'mono' }, h('a', { href: streamHref(s.stream), 'data-stream': s.stream }, s.stream)),
              h('td', {}, s.revision),
              h('td', {}, s.events),
              h('td', {}, time(s.last_event_at)),
            ),
          ),
        ),
      ),
      h(
        'div',
        { class: 'pager' },
        h('button', { class: 'secondary', disabled: !pagination.has_prev, onclick: () => go({ page: String(page - 1) }) }, '← Previous'),
        h('span', { class: 'muted' }, `page ${pagination.page} of ${Math.max(1, pagination.total_pages)}`),
        h('button', { class: 'secondary', disabled: !pagination.has_next, onclick: () => go({ page: String(page + 1) }) }, 'Next →'),
      ),
    ),
  );
}

function metaLine(event) {
  const m = event.metadata || {};
  return h(
    'div',
    { class: 'muted' },
    m.userId ? ['by ', h('span', { class: 'mono' }, m.userId), ' '] : '',
    m.$correlationId
      ? ['· correlation ', h('a', { href: correlationHref(m.$correlationId), class: 'mono', 'data-correlation': m.$correlationId }, m.$correlationId), ' ']
      : '',
    m.requestId ? ['· request ', h('span', { class: 'mono' }, m.requestId)] : '',
  );
}

function eventDetail(event) {
  return h('div', { class: 'event-detail' }, h('div', {}, h('h2', {}, 'Data'), json(event.data)), h('div', {}, h('h2', {}, 'Metadata'), json(event.metadata)));
}

/** A "Load more" button and the place its failure shows: a click runs `next` (read the next page and show it), once at a time. */
function loadMoreButton(testid, next) {
  const failure = h('div', {});
  const more = h('button', { class: 'secondary', 'data-testid': testid }, 'Load more');
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await next();
      failure.replaceChildren();
    } catch (error) {
      failure.replaceChildren(errorBox(error));
    } finally {
      more.disabled = false;
    }
  });
  return { more, failure };
}

/** Events per page of the stream screen. */
const STREAM_PAGE = 500;

async function streamView(stream) {
  // a page at a time; "Load more" reads on from the revision after the last one shown
  const pagePath = (from) => `/streams/${enc(stream)}/events?limit=${STREAM_PAGE}${from !== null ? `&from_revision=${enc(from)}` : ''}`;
  const first = await api('GET', pagePath(null));
  const rows = h('tbody', {});
  const caption = h('p', { class: 'muted', 'data-testid': 'stream-caption' });
  const { more, failure } = loadMoreButton('stream-more', async () => show(await api('GET', pagePath(next))));
  let shown = 0;
  let next = null;
  const show = (events) => {
    rows.append(...events.map((e) => eventRow(stream, e)));
    shown += events.length;
    if (events.length > 0) next = (BigInt(events.at(-1).revision) + 1n).toString();
    // a short page is the end
    const end = events.length < STREAM_PAGE;
    more.hidden = end;
    caption.textContent = `${shown} events${end ? '' : ', more to load'}`;
  };
  show(first);
  return h(
    'section',
    { class: 'card' },
    h(
      'div',
      { class: 'toolbar' },
      h('h1', { class: 'mono grow', 'data-testid': 'stream-name' }, stream),
      h('a', { href: stateHref(stream) }, 'State at revision…'),
    ),
    caption,
    h(
      'table',
      { 'data-testid': 'events' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Rev'), h('th', {}, 'Type'), h('th', {}, 'When'), h('th', {}, 'Position'), h('th', {}, ''))),
      rows,
    ),
    failure,
    h('div', { class: 'pager' }, more),
  );
}

function eventRow(stream, e) {
  return h(
    'tr',
    { 'data-revision': e.revision, 'data-type': e.type },
    h('td', {}, e.revision),
    h('td', {}, h('details', {}, h('summary', {}, h('strong', {}, e.type)), metaLine(e), eventDetail(e))),
    h('td', {}, time(e.created)),
    h('td', { class: 'mono' }, e.position),
    h('td', {}, h('a', { href: stateHref(stream, e.revision), 'data-state-at': e.revision }, 'state')),
  );
}

async function stateView(stream, query) {
  const at = query.get('at');
  const found = await api('GET', `/streams/${enc(stream)}/state${at !== null ? `?at=${enc(at)}` : ''}`);
  const revision = Number(found.revision);
  const last = Number(found.last_revision);
  const goto = (r) => {
    location.hash = stateHref(stream, Math.min(last, Math.max(0, r)));
  };
  const input = h('input', { type: 'number', min: '0', max: String(last), value: found.revision, 'data-testid': 'revision-input' });
  const event = found.event;
  return h(
    'section',
    { class: 'card' },
    h(
      'div',
      { class: 'toolbar' },
      h('h1', { class: 'grow' }, 'State of ', h('a', { href: streamHref(stream), class: 'mono' }, stream)),
      h('button', { class: 'secondary', disabled: revision <= 0, onclick: () => goto(revision - 1), 'data-testid': 'prev-revision' }, '← Earlier'),
      h(
        'form',
        {
          onsubmit: (e) => {
            e.preventDefault();
            goto(Number(input.value));
          },
        },
        input,
        ' ',
        h('button', { type: 'submit', class: 'secondary' }, 'Go'),
      ),
      h('button', { class: 'secondary', disabled: revision >= last, onclick: () => goto(revision + 1), 'data-testid': 'next-revision' }, 'Later →'),
    ),
    h(
      'p',
      { class: 'muted', 'data-testid': 'state-caption' },
      `Revision ${found.revision} of ${last} · aggregate ${found.aggregate ?? 'none (no decider for this category)'}`,
    ),
    h(
      'div',
      { class: 'split' },
      h(
        'div',
        { 'data-testid': 'state-event' },
        h('h2', {}, `Event at revision ${found.revision}`),
        event
          ? [
              h(
                'dl',
                { class: 'kv' },
                h('dt', {}, 'type'),
                h('dd', { 'data-testid': 'state-event-type' }, event.type),
                h('dt', {}, 'when'),
                h('dd', {}, time(event.created)),
                h('dt', {}, 'position'),
                h('dd', { class: 'mono' }, event.position),
              ),
              metaLine(event),
              h('h2', {}, 'Data'),
              json(event.data),
              h('h2', {}, 'Metadata'),
              json(event.metadata),
            ]
          : h('p', { class: 'muted' }, 'no event'),
      ),
      h('div', { 'data-testid': 'state-json' }, h('h2', {}, `State after revision ${found.revision}`), json(found.state)),
    ),
  );
}

/** Events per page of the correlation screen. */
const CORRELATION_PAGE = 100;

async function correlationView(id) {
  const input = h('input', { type: 'search', placeholder: 'correlation id', value: id || '', class: 'grow', 'data-testid': 'correlation-input' });
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (e) => {
        e.preventDefault();
        if (input.value.trim()) location.hash = correlationHref(input.value.trim());
      },
    },
    input,
    h('button', { type: 'submit' }, 'Follow'),
  );
  if (!id)
    return h(
      'section',
      { class: 'card' },
      h('h1', {}, 'Follow a correlation id'),
      form,
      h('p', { class: 'muted' }, 'Every event one request set off, across aggregates, in the order they were stored.'),
    );
  // a page at a time (a bulk command sets off thousands); "Load more" pages on from the last position
  const pagePath = (after) => `/correlations/${enc(id)}?limit=${CORRELATION_PAGE}${after ? `&from_position=${enc(after)}` : ''}`;
  const first = await api('GET', pagePath());
  const list = h('ol', { class: 'timeline', 'data-testid': 'timeline' });
  const caption = h('p', { class: 'muted', 'data-testid': 'correlation-caption' });
  const { more, failure } = loadMoreButton('correlation-more', async () => show(await api('GET', pagePath(last))));
  const streams = new Set();
  let shown = 0;
  let last = null;
  const show = (events) => {
    list.append(...events.map(timelineItem));
    for (const e of events) streams.add(e.stream);
    shown += events.length;
    last = events.at(-1)?.position ?? last;
    // a short page is the end (for now)
    const end = events.length < CORRELATION_PAGE;
    more.hidden = end;
    caption.textContent = `${shown} events in ${streams.size} streams${end ? '' : ', more to load'}`;
  };
  show(first);
  return h(
    'section',
    { class: 'card' },
    h('h1', {}, 'Correlation ', h('span', { class: 'mono' }, id)),
    form,
    caption,
    list,
    failure,
    h('div', { class: 'pager' }, more),
  );
}

function timelineItem(e) {
  return h(
    'li',
    { 'data-type': e.type, 'data-stream': e.stream, 'data-position': e.position },
    h('div', { class: 'when' }, `${time(e.created)} · ${e.position}`),
    h(
      'div',
      {},
      h('strong', {}, e.type),
      ' in ',
      h('a', { href: streamHref(e.stream), class: 'mono' }, e.stream),
      ' @ ',
      h('a', { href: stateHref(e.stream, e.revision) }, `rev ${e.revision}`),
    ),
    h('div', { class: 'muted' }, e.metadata.userId ? `by ${e.metadata.userId}` : '', e.metadata.$causationId ? ` · caused by ${e.metadata.$causationId}` : ''),
    h('details', {}, h('summary', {}, 'data and metadata'), eventDetail(e)),
  );
}

// projections: status table, rebuild with live progress (polls the job, then the status)
let pollTimer = null;
function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

function progressCell(p) {
  if (!p) return '';
  // while the rebuild still counts its events the total is only what it handled: the bar waits for the count
  const counted = p.total_counted !== false;
  const pct = counted && p.total_events > 0 ? Math.min(100, Math.round((p.processed_events / p.total_events) * 100)) : p.phase === 'done' ? 100 : 0;
  const bar = h('div', {});
  bar.style.width = `${pct}%`;
  return h(
    'div',
    {},
    h('div', { class: 'progress' }, bar),
    h(
      'div',
      { class: 'rebuild-status' },
      `${p.phase} · ${p.processed_events}/${counted ? p.total_events : '?'} events · ${Math.round(p.events_per_second)}/s${p.eta_seconds !== null ? ` · ETA ${Math.ceil(p.eta_seconds)} s` : ''}`,
    ),
  );
}

async function projectionsView() {
  // warnings: what /readyz warns about (a transaction holding back event delivery), from the admin API: /readyz wants the ops token
  const [projections, { warnings }] = await Promise.all([api('GET', '/projections'), api('GET', '/warnings')]);
  const rows = projections.map((p) => {
    const status = h('div', { class: 'rebuild-status', 'data-testid': `rebuild-status-${p.name}` });
    const progress = h('div', {}, progressCell(p.rebuild));
    const button = h('button', { class: 'secondary', 'data-rebuild': p.name }, 'Rebuild');
    button.addEventListener('click', () => rebuild(p.name, button, progress, status));
    return h(
      'tr',
      { 'data-projection': p.name },
      h('td', { class: 'mono' }, p.name, h('div', { class: 'muted' }, p.tables.join(', '))),
      h('td', {}, h('span', { class: `badge ${p.state}`, 'data-testid': `state-${p.name}` }, p.state)),
      h('td', { class: 'mono nowrap' }, p.checkpoint ?? '—'),
      h('td', { class: 'mono nowrap' }, p.head),
      h('td', {}, String(p.lag_events)),
      h('td', {}, p.lag_seconds === null ? '—' : `${Math.round(p.lag_seconds)} s`),
      h('td', {}, button, progress, status),
    );
  });
  return h(
    'section',
    { class: 'card' },
    h('div', { class: 'toolbar' }, h('h1', { class: 'grow' }, 'Projections'), h('button', { class: 'secondary', onclick: () => route() }, 'Refresh')),
    ...warnings.map((w) => h('p', { class: 'error', 'data-testid': 'horizon-warning' }, w)),
    h(
      'table',
      { 'data-testid': 'projections' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Projection', 'State', 'Checkpoint', 'Head', 'Lag (events)', 'Lag (time)', 'Rebuild'].map((t) => h('th', {}, t)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

async function rebuild(name, button, progress, status) {
  button.disabled = true;
  status.className = 'rebuild-status';
  status.textContent = 'enqueued…';
  let job;
  try {
    job = await api('POST', `/projections/${enc(name)}/rebuild`);
  } catch (error) {
    status.className = 'rebuild-status failed';
    status.textContent = error.message;
    button.disabled = false;
    return;
  }
  const seq = routeSeq;
  const poll = async () => {
    if (seq !== routeSeq) return;
    try {
      const state = await api('GET', `/rebuilds/${enc(job.job_id)}`);
      progress.replaceChildren(progressCell(state.progress));
      if (state.state === 'completed') {
        status.className = 'rebuild-status done';
        status.textContent = `rebuilt: done at ${time(state.finished_at)}`;
        button.disabled = false;
        return;
      }
      if (state.state === 'failed') {
        status.className = 'rebuild-status failed';
        status.textContent = `failed: ${state.failed_reason ?? 'unknown'}`;
        button.disabled = false;
        return;
      }
      status.textContent = `${state.state} (job ${job.job_id})`;
    } catch (error) {
      status.textContent = error.message;
    }
    pollTimer = setTimeout(poll, 500);
  };
  poll();
}

// dead letters: events a consumer parked after failing on them; retry through its handler, or skip
async function deadLettersView(_arg, query) {
  const status = query.get('status') || 'parked';
  const consumer = query.get('consumer') || '';
  const params = new URLSearchParams({ status, limit: '500' });
  if (consumer) params.set('consumer', consumer);
  const letters = await api('GET', `/dead-letters?${params}`);
  const go = (changes) => {
    const next = new URLSearchParams({ status, consumer, ...changes });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/dead-letters?${next}`;
  };
  const consumerInput = h('input', { type: 'search', placeholder: 'consumer, e.g. users-v1', value: consumer, 'data-testid': 'dead-letter-consumer' });
  const statusSelect = h(
    'select',
    { 'data-testid': 'dead-letter-status', onchange: () => go({ status: statusSelect.value }) },
    ['parked', 'retried', 'skipped', 'all'].map((s) => h('option', { value: s, selected: s === status }, s)),
  );
  const act = async (letter, action, row, note) => {
    for (const b of row.querySelectorAll('button')) b.disabled = true;
    note.className = 'rebuild-status';
    note.textContent = action === 'retry' ? 'retrying…' : 'skipping…';
    try {
      const result = await api('POST', `/dead-letters/${enc(letter.id)}/${action}`);
      const updated = action === 'retry' ? result.dead_letter : result;
      if (action === 'retry' && !result.ok) {
        note.className = 'rebuild-status failed';
        note.textContent = `failed again (attempt ${updated.attempts}): ${result.error}`;
        for (const b of row.querySelectorAll('button')) b.disabled = false;
        return;
      }
      note.className = 'rebuild-status done';
      note.textContent = updated.status;
      row.dataset.status = updated.status;
    } catch (error) {
      note.className = 'rebuild-status failed';
      note.textContent = error.message;
      for (const b of row.querySelectorAll('button')) b.disabled = false;
    }
  };
  const rows = letters.map((l) => {
    const note = h('div', { class: 'rebuild-status', 'data-testid': `dead-letter-note-${l.id}` });
    const row = h('tr', { 'data-dead-letter': l.id, 'data-status': l.status });
    const buttons =
      l.status === 'parked'
        ? [
            h('button', { class: 'secondary', 'data-retry': l.id, onclick: () => act(l, 'retry', row, note) }, 'Retry'),
            ' ',
            h('button', { class: 'secondary', 'data-skip': l.id, onclick: () => act(l, 'skip', row, note) }, 'Skip'),
          ]
        : [h('span', { class: 'muted' }, `${l.status} ${time(l.resolved_at)}`)];
    row.append(
      h('td', { class: 'mono' }, l.id),
      h('td', { class: 'mono' }, h('a', { href: `#/dead-letters?${new URLSearchParams({ status, consumer: l.consumer })}` }, l.consumer)),
      h(
        'td',
        {},
        h('strong', {}, l.type),
        h('div', {}, h('a', { href: stateHref(l.stream, l.revision), class: 'mono' }, `${l.stream}@${l.revision}`)),
        h('div', { class: 'muted mono' }, l.position),
      ),
      h('td', {}, String(l.attempts), h('div', { class: 'muted' }, `${time(l.first_failed_at)} – ${time(l.last_failed_at)}`)),
      h('td', {}, h('details', {}, h('summary', {}, l.error.split('\n')[0]), h('pre', { class: 'json' }, l.error))),
      h('td', { class: 'nowrap' }, buttons, note),
    );
    return row;
  });
  return h(
    'section',
    { class: 'card' },
    h('div', { class: 'toolbar' }, h('h1', { class: 'grow' }, 'Dead letters'), h('button', { class: 'secondary', onclick: () => route() }, 'Refresh')),
    h(
      'p',
      { class: 'muted' },
      'Events a projection or process manager failed on repeatedly and parked, so it could go on without them. ',
      "Retry handles one once more through the consumer's own code (after the fix is deployed); Skip gives up on it.",
    ),
    h(
      'form',
      {
        class: 'toolbar',
        onsubmit: (e) => {
          e.preventDefault();
          go({ consumer: consumerInput.value.trim() });
        },
      },
      consumerInput,
      h('button', { type: 'submit', class: 'secondary' }, 'Filter'),
      statusSelect,
      h('span', { class: 'grow' }),
      h('span', { class: 'muted', 'data-testid': 'dead-letter-count' }, `${letters.length} ${status === 'all' ? '' : status}`),
    ),
    letters.length === 0
      ? h('p', { class: 'muted', 'data-testid': 'no-dead-letters' }, 'Nothing here.')
      : h(
          'table',
          { 'data-testid': 'dead-letters' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['#', 'Consumer', 'Event', 'Attempts', 'Error', ''].map((t) => h('th', {}, t)),
            ),
          ),
          h('tbody', {}, rows),
        ),
  );
}

// queues: a live table fed by the monitor's event stream (GET /admin/queues/live, read with fetch: it needs the bearer
// token), blocked queues highlighted with their alert, and the audited interventions (pause, resume, retry failed)
let live = null;
function stopLive() {
  live?.abort();
  live = null;
}

/** Reads a text/event-stream response, calling onEvent(name, data) per event; resolves when it ends. */
async function readEvents(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onEvent(name, data.join('\n'));
      cut = buffer.indexOf('\n\n');
    }
  }
}

/** Follows the live stats until aborted: reconnects after a drop, refreshes the token once on a 401. */
function followQueueStats(onStats, onState) {
  const controller = new AbortController();
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        let res = await fetch(`${API}/admin/queues/live`, {
          headers: { Authorization: `Bearer ${auth.token}`, Accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (res.status === 401 && auth.refreshToken) {
          await refresh();
          res = await fetch(`${API}/admin/queues/live`, {
            headers: { Authorization: `Bearer ${auth.token}`, Accept: 'text/event-stream' },
            signal: controller.signal,
          });
        }
        if (!res.ok) throw new Error(`live stats: HTTP ${res.status}`);
        onState('live');
        await readEvents(res, (name, data) => {
          if (name === 'stats') onStats(JSON.parse(data), Date.now());
        });
      } catch (error) {
        if (controller.signal.aborted) return;
        onState(`reconnecting (${error.message})`);
      }
      if (!controller.signal.aborted) {
        onState('reconnecting');
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  };
  run();
  return controller;
}

const perSecond = (n) => (n === null || n === undefined ? '—' : n.toFixed(1));

async function queuesView() {
  const snapshot = await api('GET', '/queues/stats');
  const board = h('iframe', { class: 'board', src: '/console/queues/', title: 'Queue dashboard', 'data-testid': 'queue-board' });
  const status = h('span', { class: 'muted', 'data-testid': 'queue-live-status' }, 'connecting…');
  const alerts = h('div', { 'data-testid': 'queue-alerts' });
  const note = h('p', { class: 'muted', 'data-testid': 'queue-action-note', role: 'status' });
  const detector = h('p', { class: 'muted', 'data-testid': 'queue-detector' });
  const tbody = h('tbody', {});
  const table = h(
    'table',
    { 'data-testid': 'queues' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Queue', 'State', 'Waiting', 'Active', 'Delayed', 'Failed', 'In/s', 'Done/s', 'Failed/s', 'Oldest waiting', ''].map((t) => h('th', {}, t)),
      ),
    ),
    tbody,
  );

  const act = async (name, action) => {
    note.className = 'muted';
    note.textContent = `${action} ${name}…`;
    try {
      const r = await api('POST', `/queues/${enc(name)}/${action}`);
      note.textContent = r.changed ? `${name}: ${r.event}${r.count ? ` (${r.count} jobs)` : ''}, recorded` : `${name}: nothing to do`;
    } catch (error) {
      note.className = 'error';
      note.textContent = error.message;
    }
  };

  const rowOf = (q) =>
    h(
      'tr',
      { 'data-queue': q.name, 'data-paused': String(q.paused), 'data-blocked': String(q.blocked !== null), class: q.blocked ? 'blocked' : '' },
      h('td', { class: 'mono' }, q.name),
      h(
        'td',
        {},
        h('span', { class: `badge ${q.paused ? 'queue-paused' : 'queue-running'}` }, q.paused ? 'paused' : 'running'),
        q.blocked ? h('span', { class: 'badge queue-blocked' }, 'blocked') : '',
      ),
      h('td', { 'data-count': 'waiting' }, q.waiting),
      h('td', { 'data-count': 'active' }, q.active),
      h('td', { 'data-count': 'delayed' }, q.delayed),
      h('td', { 'data-count': 'failed' }, q.failed),
      h('td', {}, perSecond(q.added_per_second)),
      h('td', {}, perSecond(q.completed_per_second)),
      h('td', {}, perSecond(q.failed_per_second)),
      h('td', {}, q.oldest_waiting_seconds === null ? '—' : waited(q.oldest_waiting_seconds)),
      h(
        'td',
        { class: 'nowrap' },
        q.paused
          ? h('button', { class: 'secondary', 'data-testid': `queue-resume-${q.name}`, onclick: () => act(q.name, 'resume') }, 'Resume')
          : h('button', { class: 'secondary', 'data-testid': `queue-pause-${q.name}`, onclick: () => act(q.name, 'pause') }, 'Pause'),
        ' ',
        h(
          'button',
          { class: 'secondary', 'data-testid': `queue-retry-failed-${q.name}`, disabled: q.failed === 0, onclick: () => act(q.name, 'retry-failed') },
          'Retry failed',
        ),
      ),
    );

  // a row is rebuilt only when its numbers change (a button under the pointer stays put otherwise)
  const rendered = new Map();
  const show = (stats, receivedAt) => {
    tbody.replaceChildren(
      ...stats.queues.map((q) => {
        const key = JSON.stringify(q);
        const seen = rendered.get(q.name);
        if (seen && seen.key === key) return seen.row;
        const row = rowOf(q);
        rendered.set(q.name, { key, row });
        return row;
      }),
    );
    const blocked = stats.queues.filter((q) => q.blocked);
    alerts.replaceChildren(
      ...blocked.map((q) =>
        h(
          'div',
          { class: 'card alert', role: 'alert', 'data-alert-queue': q.name },
          h('strong', {}, `Queue ${q.name} is blocked`),
          ` since ${time(q.blocked.since)} (detected ${time(q.blocked.detected_at)}): ${q.waiting} waiting, nothing finished`,
          q.paused ? ' — the queue is paused.' : '.',
        ),
      ),
    );
    detector.textContent = stats.detector.running
      ? `Blockage detector running: a queue is blocked after ${stats.detector.threshold_seconds} s without moving.`
      : 'No blockage detector has reported lately (it runs in a projector process).';
    table.dataset.sampleAt = stats.at;
    if (receivedAt !== undefined) {
      table.dataset.receivedAt = String(receivedAt);
      table.dataset.latencyMs = String(receivedAt - Date.parse(stats.at));
      table.dataset.updates = String(Number(table.dataset.updates || 0) + 1);
    }
  };
  show(snapshot);
  stopLive();
  live = followQueueStats(show, (state) => {
    status.textContent = state === 'live' ? 'live · every second' : state;
  });

  return [
    h(
      'section',
      { class: 'card' },
      h(
        'div',
        { class: 'toolbar' },
        h('h1', { class: 'grow' }, 'Queues'),
        status,
        h('a', { href: '/console/queues/', target: '_blank', rel: 'noopener' }, 'Open the dashboard ↗'),
      ),
      alerts,
      detector,
      table,
      note,
    ),
    h('p', {}),
    board,
  ];
}

// ---------- content review: the queue and the workbench (/api/v1/reviews) ----------

/** The role the access token was issued with (its payload, read only to choose what to show: the API decides). */
function roleOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), '='))).role ?? null;
  } catch {
    return null;
  }
}

/** A call to the API outside /admin (the review queue); a 401 refreshes the tokens once, as api() does. */
async function userApi(method, path, options = {}) {
  try {
    return await request(method, `${API}${path}`, options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && auth.refreshToken) {
      await refresh();
      return request(method, `${API}${path}`, options);
    }
    throw error;
  }
}

function waited(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

async function reviewsView(_arg, query) {
  const status = query.get('status') || 'open';
  const platform = query.get('platform') || '';
  const page = Number(query.get('page') || 1);
  const params = new URLSearchParams({ status, page: String(page), per_page: '50' });
  if (platform) params.set('platform', platform);
  const reviews = await userApi('GET', `/reviews?${params}`);
  const go = (changes) => {
    const next = new URLSearchParams({ status, platform, page: String(page), ...changes });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/reviews?${next}`;
  };
  const statusSelect = h(
    'select',
    { 'data-testid': 'review-status', onchange: () => go({ status: statusSelect.value, page: '1' }) },
    ['open', 'approved', 'rejected', 'withdrawn'].map((s) => h('option', { value: s, selected: s === status }, s)),
  );
  const platformInput = h('input', { type: 'search', placeholder: 'platform, e.g. xiaohongshu', value: platform, 'data-testid': 'review-platform' });
  const { pagination } = reviews;
  return h(
    'section',
    { class: 'card' },
    h('div', { class: 'toolbar' }, h('h1', { class: 'grow' }, 'Reviews'), h('button', { class: 'secondary', onclick: () => route() }, 'Refresh')),
    h(
      'p',
      { class: 'muted' },
      'Content the automatic pre-review flagged, oldest first. Claim one, read it with its hits marked, approve it or reject it with a reason.',
    ),
    h(
      'form',
      {
        class: 'toolbar',
        onsubmit: (e) => {
          e.preventDefault();
          go({ platform: platformInput.value.trim(), page: '1' });
        },
      },
      statusSelect,
      platformInput,
      h('button', { type: 'submit', class: 'secondary' }, 'Filter'),
      h('span', { class: 'grow' }),
      h('span', { class: 'muted' }, `${pagination.total} reviews`),
    ),
    reviews.items.length === 0
      ? h('p', { class: 'muted', 'data-testid': 'no-reviews' }, 'The queue is empty.')
      : h(
          'table',
          { 'data-testid': 'reviews' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Title', 'Platform', 'Hits', 'Opened', 'In queue', 'Claimed by', 'Status'].map((t) => h('th', {}, t)),
            ),
          ),
          h(
            'tbody',
            {},
            reviews.items.map((r) =>
              h(
                'tr',
                { 'data-review': r.id, 'data-status': r.status },
                h('td', {}, h('a', { href: `#/review/${enc(r.id)}` }, r.title), h('div', { class: 'muted mono' }, r.owner_id)),
                h('td', {}, r.platform, r.region ? h('span', { class: 'muted' }, ` · ${r.region}`) : ''),
                h('td', {}, r.hit_count),
                h('td', {}, time(r.opened_at)),
                h('td', {}, waited(r.waited_seconds)),
                h('td', { class: 'mono' }, r.claimed_by ? (r.claimed_by === auth.userId ? 'me' : r.claimed_by) : '—'),
                h('td', {}, h('span', { class: `badge review-${r.status}` }, r.status)),
              ),
            ),
          ),
        ),
    h(
      'div',
      { class: 'pager' },
      h('button', { class: 'secondary', disabled: !pagination.has_prev, onclick: () => go({ page: String(page - 1) }) }, '← Previous'),
      h('span', { class: 'muted' }, `page ${pagination.page} of ${Math.max(1, pagination.total_pages)}`),
      h('button', { class: 'secondary', disabled: !pagination.has_next, onclick: () => go({ page: String(page + 1) }) }, 'Next →'),
    ),
  );
}

/** The text with each hit's range marked (overlapping hits merged into one mark naming every rule). */
function highlighted(text, hits, field) {
  const ranges = hits
    .filter((hit) => hit.field === field && hit.end > hit.start && hit.kind !== 'length')
    .map((hit) => ({ start: hit.start, end: hit.end, rules: [hit.rule_name] }))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const merged = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.start < last.end) {
      last.end = Math.max(last.end, r.end);
      if (!last.rules.includes(r.rules[0])) last.rules.push(r.rules[0]);
    } else merged.push({ ...r, rules: [...r.rules] });
  }
  const nodes = [];
  let at = 0;
  for (const r of merged) {
    if (r.start > at) nodes.push(text.slice(at, r.start));
    nodes.push(h('mark', { class: 'hit', title: r.rules.join(', '), 'data-hit': text.slice(r.start, r.end) }, text.slice(r.start, r.end)));
    at = r.end;
  }
  if (at < text.length) nodes.push(text.slice(at));
  return nodes;
}

async function reviewView(id, query) {
  const after = query.get('after');
  const review = await userApi('GET', `/reviews/${enc(id)}${after ? `?after_position=${enc(after)}` : ''}`);
  const content = review.content;
  const mine = review.claimed_by === auth.userId;
  const open = review.status === 'open';
  const note = h('p', { class: 'error', role: 'alert', 'data-testid': 'review-error', hidden: true });
  const comment = h('textarea', {
    rows: '3',
    maxlength: '2000',
    placeholder: 'comment (required to reject: the author is told why)',
    'data-testid': 'review-comment',
  });
  const act = async (action, body) => {
    note.hidden = true;
    if (action === 'reject' && !comment.value.trim()) {
      note.hidden = false;
      note.textContent = 'A rejection needs a comment: the author is told why.';
      return;
    }
    try {
      const result = await userApi('POST', `/reviews/${enc(id)}/${action}`, body === undefined ? {} : { body });
      location.hash = `#/review/${enc(id)}?after=${enc(result.position ?? '')}`;
    } catch (error) {
      note.hidden = false;
      note.textContent = error.message;
    }
  };
  const actions = !open
    ? [h('span', { class: `badge review-${review.status}`, 'data-testid': 'review-state' }, review.status)]
    : mine
      ? [
          h('span', { class: 'badge review-open', 'data-testid': 'review-state' }, 'claimed by me'),
          ' ',
          h('button', { class: 'secondary', 'data-testid': 'review-release', onclick: () => act('release') }, 'Release'),
          ' ',
          h('button', { 'data-testid': 'review-approve', onclick: () => act('approve', { comment: comment.value.trim() || null }) }, 'Approve'),
          ' ',
          h('button', { class: 'danger', 'data-testid': 'review-reject', onclick: () => act('reject', { comment: comment.value.trim() }) }, 'Reject'),
        ]
      : [
          h('span', { class: 'badge review-open', 'data-testid': 'review-state' }, review.claimed_by ? `claimed by ${review.claimed_by}` : 'open'),
          ' ',
          h('button', { 'data-testid': 'review-claim', onclick: () => act('claim') }, review.claimed_by ? 'Take over' : 'Claim'),
        ];
  const field = (label, name, text) =>
    h(
      'div',
      { class: 'review-field', 'data-field': name },
      h('h2', {}, label),
      h('div', { class: `review-text ${name}` }, text ? highlighted(text, review.hits, name) : h('span', { class: 'muted' }, '—')),
    );
  return h(
    'div',
    { class: 'layout review-layout' },
    h(
      'section',
      { class: 'card' },
      h('div', { class: 'toolbar' }, h('h1', { class: 'grow', 'data-testid': 'review-title' }, review.title), h('a', { href: '#/reviews' }, '← Queue')),
      h(
        'p',
        { class: 'muted' },
        `${review.platform}${review.region ? ` · ${review.region}` : ''} · article ${review.article_id} v${review.article_version} · by `,
        h('span', { class: 'mono' }, review.owner_id),
        ` · opened ${time(review.opened_at)} · in queue ${waited(review.waited_seconds)}`,
      ),
      content
        ? [
            field('Title', 'title', content.title),
            field('Summary', 'summary', content.summary ?? ''),
            field('Body', 'body', content.body),
            field('Tags', 'tags', (content.tags ?? []).join('\n')),
          ]
        : h('p', { class: 'muted' }, 'The content is not available (the article version is not in the read model).'),
    ),
    h(
      'aside',
      { class: 'card' },
      h('h2', {}, 'Decision'),
      h('div', { class: 'review-actions' }, actions),
      open && mine ? comment : review.comment ? h('p', {}, h('strong', {}, 'Comment: '), review.comment) : '',
      review.decided_by ? h('p', { class: 'muted' }, `${review.status} by ${review.decided_by} ${time(review.decided_at)}`) : '',
      note,
      h('h2', {}, `Hits (${review.hits.length})`),
      h(
        'ul',
        { class: 'plain hits', 'data-testid': 'review-hits' },
        review.hits.map((hit) =>
          h(
            'li',
            { 'data-rule': hit.rule_id },
            h('strong', {}, hit.rule_name),
            h('span', { class: 'muted' }, ` ${hit.kind}${hit.category ? ` · ${hit.category}` : ''} · ${hit.field}`),
            h('div', { class: 'mono' }, hit.match),
          ),
        ),
      ),
    ),
  );
}

// ---------- finance: revenue against cost (/api/v1/admin/finance/profit) ----------

/** Cents (CNY) as yuan with two decimals; negative amounts keep their sign. */
const yuan = (cents) => `${cents < 0 ? '−' : ''}¥${(Math.abs(cents) / 100).toFixed(2)}`;
const isoDay = (date) => date.toISOString().slice(0, 10);

async function financeView(_arg, query) {
  const today = new Date();
  const from = query.get('from') || isoDay(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 5, 1)));
  // days are the platform's (QUOTA_TIME_ZONE, maybe ahead of this browser): the default range runs to the month's end, and at least to tomorrow
  const monthEnd = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() + 1, 0));
  const to = query.get('to') || isoDay(new Date(Math.max(monthEnd.getTime(), today.getTime() + 86_400_000)));
  const groupBy = query.get('group_by') === 'day' ? 'day' : 'month';
  const report = await userApi('GET', `/admin/finance/profit?${new URLSearchParams({ from, to, group_by: groupBy })}`);
  const fromInput = h('input', { type: 'date', value: from, 'data-testid': 'finance-from', required: true });
  const toInput = h('input', { type: 'date', value: to, 'data-testid': 'finance-to', required: true });
  const groupSelect = h(
    'select',
    { 'data-testid': 'finance-group' },
    ['month', 'day'].map((g) => h('option', { value: g, selected: g === groupBy }, `by ${g}`)),
  );
  const columns = [
    ['Revenue', 'revenue_cents'],
    ['Plan payments', 'plan_payments_cents'],
    ['Refunds', 'plan_refunds_cents'],
    ['Ledger charges', 'ledger_charges_cents'],
    ['Proxy cost', 'proxy_cost_cents'],
    ['SMS cost', 'sms_cost_cents'],
    ['Profit', 'profit_cents'],
    ['Top-ups held', 'top_ups_cents'],
  ];
  const cells = (row) => [
    ...columns.map(([, key]) => h('td', { class: `num${key === 'profit_cents' && row[key] < 0 ? ' loss' : ''}`, 'data-col': key }, yuan(row[key]))),
    h('td', { class: 'num muted' }, `${row.proxy_uses} / ${row.sms_segments}`),
  ];
  return h(
    'section',
    { class: 'card' },
    h('div', { class: 'toolbar' }, h('h1', { class: 'grow' }, 'Finance'), h('button', { class: 'secondary', onclick: () => route() }, 'Refresh')),
    h(
      'p',
      { class: 'muted' },
      'Revenue (plan payments less refunds, charges to prepaid balances) against what the platform paid for proxy uses and SMS segments, priced by the cost configuration. Top-ups are customers’ money held, not revenue.',
    ),
    h(
      'form',
      {
        class: 'toolbar',
        onsubmit: (e) => {
          e.preventDefault();
          location.hash = `#/finance?${new URLSearchParams({ from: fromInput.value, to: toInput.value, group_by: groupSelect.value })}`;
        },
      },
      h('label', {}, 'From ', fromInput),
      h('label', {}, 'To ', toInput),
      groupSelect,
      h('button', { type: 'submit', class: 'secondary' }, 'Show'),
    ),
    report.items.length === 0
      ? h('p', { class: 'muted', 'data-testid': 'finance-empty' }, 'Nothing was earned or spent in these days.')
      : h(
          'table',
          { 'data-testid': 'finance' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, groupBy === 'day' ? 'Day' : 'Month'),
              ...columns.map(([title]) => h('th', { class: 'num' }, title)),
              h('th', { class: 'num' }, 'Proxy uses / SMS segments'),
            ),
          ),
          h(
            'tbody',
            {},
            report.items.map((row) => h('tr', { 'data-period': row.period }, h('td', { class: 'mono' }, row.period), ...cells(row))),
          ),
          h('tfoot', {}, h('tr', { 'data-period': 'total' }, h('th', {}, 'Total'), ...cells(report.totals))),
        ),
  );
}

// ---------- start ----------

$('login-form').addEventListener('submit', signIn);
$('login-sms').addEventListener('click', () => void sendSmsCode());
$('sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
showLogin();
