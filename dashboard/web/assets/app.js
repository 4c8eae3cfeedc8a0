// galvatron-dashboard: the core of the browser front-end.
//
// Plain scripts, no build step. Every file adds to the one global namespace
// `G`; this one holds what the pages share: HTML escaping, formatting, the
// API client, the router and the per-page context, small HTML helpers. The
// pages register themselves with G.route() (pages-*.js) and boot.js starts
// the router once every script has run.
//
// The API answers are protobuf messages in protobuf's JSON mapping: fields at
// their default value are left out (0, "", false, the zero enum, empty
// lists), and 64-bit integers come as strings. So every read of a field
// defaults it (`x.pp || 1`, `G.num(x.stepsDone)`, `G.list(x.layers)`).
'use strict';

window.G = window.G || {};

(function (G) {
  // ---------------------------------------------------------------- escaping

  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  G.esc = (s) => String(s === undefined || s === null ? '' : s).replace(/[&<>"']/g, (c) => ESC[c]);

  // Markup that is already safe (built by G.html or escaped by hand).
  class Raw {
    constructor(s) { this.s = s; }
    toString() { return this.s; }
  }
  G.Raw = Raw;
  G.raw = (s) => new Raw(String(s));

  // Interpolated values are escaped unless they are Raw; arrays are joined;
  // null, undefined and false give nothing.
  function part(v) {
    if (v instanceof Raw) return v.s;
    if (Array.isArray(v)) return v.map(part).join('');
    if (v === undefined || v === null || v === false) return '';
    return G.esc(v);
  }
  // Tagged template: G.html`<td>${name}</td>` escapes `name`.
  G.html = (strings, ...values) => {
    let out = strings[0];
    for (let i = 0; i < values.length; i++) out += part(values[i]) + strings[i + 1];
    return new Raw(out);
  };

  // ------------------------------------------------------ protobuf JSON reads

  // int64 fields come as strings, doubles may be "NaN"/"Infinity".
  G.num = (x) => {
    const n = Number(x);
    return Number.isFinite(n) ? n : 0;
  };
  G.list = (x) => (Array.isArray(x) ? x : []);

  // "JOB_STATE_RUNNING" -> "running"; a missing enum is the zero value.
  G.enumShort = (v, prefix, zero) => {
    if (!v) return zero === undefined ? '' : zero;
    const s = String(v).startsWith(prefix) ? String(v).slice(prefix.length) : String(v);
    return s.toLowerCase().replace(/_/g, ' ');
  };

  // ------------------------------------------------------------- formatting

  G.fmtBytes = (b) => {
    const n = G.num(b);
    if (n === 0) return '0 B';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    let v = Math.abs(n);
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    const digits = i === 0 ? 0 : v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return (n < 0 ? '-' : '') + Number(v.toFixed(digits)) + ' ' + units[i];
  };

  // Seconds in the unit that suits them: 412 µs, 9.38 ms, 1.25 s, 3 h 2 min.
  G.fmtSec = (s) => {
    const v = Number(s);
    if (!Number.isFinite(v)) return '–';
    const a = Math.abs(v);
    if (a === 0) return '0 s';
    if (a < 1e-3) return G.fmtSig(v * 1e6) + ' µs';
    if (a < 1) return G.fmtSig(v * 1e3) + ' ms';
    if (a < 120) return G.fmtSig(v) + ' s';
    return G.fmtDuration(v);
  };
  G.fmtDuration = (s) => {
    let v = Math.round(G.num(s));
    if (v < 60) return v + ' s';
    const h = Math.floor(v / 3600);
    const m = Math.floor((v % 3600) / 60);
    v %= 60;
    if (h >= 24) return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
    if (h) return h + ' h ' + m + ' min';
    return m + ' min ' + v + ' s';
  };
  // Three significant digits, no exponent for everyday magnitudes.
  G.fmtSig = (x, digits) => {
    const v = Number(x);
    if (!Number.isFinite(v)) return '–';
    if (v === 0) return '0';
    const d = digits || 3;
    const a = Math.abs(v);
    if (a >= 10 ** d) return Math.round(v).toLocaleString('en-US');
    if (a < 1e-4) return v.toExponential(d - 1);
    return String(Number(v.toPrecision(d)));
  };
  G.fmtInt = (x) => Math.round(G.num(x)).toLocaleString('en-US');
  G.fmtPct = (x) => G.fmtSig(G.num(x) * 100) + ' %';

  // Protobuf timestamps are RFC 3339 with up to 9 fractional digits; Date
  // only promises to read 3 of them.
  G.parseTime = (ts) => {
    if (!ts) return null;
    const t = Date.parse(String(ts).replace(/(\.\d{3})\d+/, '$1'));
    return Number.isNaN(t) ? null : new Date(t);
  };
  const pad = (n) => String(n).padStart(2, '0');
  G.fmtTime = (ts) => {
    const d = G.parseTime(ts);
    if (!d) return '–';
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  };
  G.ago = (ts) => {
    const d = G.parseTime(ts);
    if (!d) return '–';
    const s = (Date.now() - d.getTime()) / 1000;
    if (s < 1) return 'just now';
    if (s < 60) return Math.round(s) + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return G.fmtSig(s / 3600, 2) + ' h ago';
    return G.fmtSig(s / 86400, 2) + ' d ago';
  };
  // A time cell: local time, the exact stored value as the tooltip.
  G.timeCell = (ts) => (ts ? G.html`<time datetime="${ts}" title="${ts}">${G.fmtTime(ts)}</time>` : '–');

  // ------------------------------------------------------------ HTML helpers

  G.$ = (sel, root) => (root || document).querySelector(sel);
  G.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  G.setHtml = (el, h) => { if (el) el.innerHTML = String(h); };

  G.enc = encodeURIComponent;
  G.link = (href, text) => G.html`<a href="${href}">${text}</a>`;
  G.clusterLink = (c) => (c ? G.link('/clusters/' + G.enc(c), c) : '–');
  G.modelLink = (m) => (m ? G.link('/models/' + G.enc(m), m) : '–');
  G.planLink = (id) => (id ? G.link('/plans/' + G.enc(id), id) : '–');
  G.jobLink = (id) => (id ? G.link('/jobs/' + G.enc(id), id) : '–');
  G.taskLink = (id) => (id ? G.link('/tasks/' + G.enc(id), id) : '–');

  // Coloured state badge: class st-<short name>.
  G.badge = (v, prefix, zero) => {
    const s = G.enumShort(v, prefix, zero || 'unspecified');
    return G.html`<span class="badge st-${s.replace(/ /g, '-')}" title="${v || ''}">${s}</span>`;
  };

  // cols: [{h: header, f: row => cell (string or Raw), cls: class}];
  // returns one string: a table that scrolls sideways inside its box.
  G.table = (cols, rows, opts) => {
    const o = opts || {};
    if (!rows.length && o.empty !== undefined) return G.html`<p class="muted">${o.empty}</p>`;
    const head = cols.map((c) => `<th${c.cls ? ` class="${c.cls}"` : ''}>${G.esc(c.h)}</th>`).join('');
    const body = rows.map((r, i) => '<tr>' + cols.map((c) =>
      `<td${c.cls ? ` class="${c.cls}"` : ''}>${part(c.f(r, i))}</td>`).join('') + '</tr>').join('');
    const id = o.id ? ` id="${G.esc(o.id)}"` : '';
    return G.raw(`<div class="table-wrap"><table${id} class="${G.esc(o.cls || '')}"><thead><tr>${head}</tr></thead>` +
      `<tbody>${body}</tbody></table></div>`);
  };

  // A definition list of [label, value] pairs; pairs with value undefined are
  // left out.
  G.kv = (pairs, cls) => G.html`<dl class="kv ${cls || ''}">${pairs.filter((p) => p && p[1] !== undefined)
    .map((p) => G.html`<dt>${p[0]}</dt><dd>${p[1] === '' || p[1] === null ? '–' : p[1]}</dd>`)}</dl>`;

  G.section = (title, body, id) => G.html`<section class="card"${id ? G.raw(` id="${G.esc(id)}"`) : ''}>
    ${title ? G.html`<h2>${title}</h2>` : ''}${body}</section>`;

  // ------------------------------------------------------------------ errors

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.name = 'ApiError';
      this.status = status;
      this.code = code;
    }
  }
  G.ApiError = ApiError;
  // Thrown after a 401 sent the browser to the login page: nothing to show.
  class Redirected extends Error {
    constructor() { super('redirected to the login page'); this.name = 'Redirected'; }
  }
  G.Redirected = Redirected;

  G.isQuiet = (err) => err && (err.name === 'AbortError' || err instanceof Redirected);

  G.errorText = (err) => {
    if (err instanceof ApiError) {
      return `${err.code || 'HTTP ' + err.status}: ${err.message || '(no message)'}`;
    }
    return (err && err.message) || String(err);
  };
  G.showError = (err) => {
    if (G.isQuiet(err)) return;
    const box = document.getElementById('error');
    box.textContent = G.errorText(err);
    box.hidden = false;
  };
  G.clearError = () => {
    const box = document.getElementById('error');
    box.hidden = true;
    box.textContent = '';
  };

  // ---------------------------------------------------------------- the API

  let redirecting = false;
  G.loginUrl = () => '/login?next=' + G.enc(location.pathname + location.search);

  // fetch + JSON. Throws ApiError for an error answer (the server's
  // {"error": {"code", "message"}} where it sent one), Redirected after a
  // 401, and fetch's AbortError when the page changed.
  G.api = async (path, opts) => {
    // opts: fetch's, plus json (a body to send as JSON, POST by default),
    // noLoginRedirect (a 401 is an ApiError) and anyBody (an answer that is
    // not JSON is fine: null).
    const o = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
    o.headers = Object.assign({ Accept: 'application/json' }, o.headers);
    if (o.json !== undefined) {
      o.method = o.method || 'POST';
      o.body = JSON.stringify(o.json);
      o.headers['Content-Type'] = 'application/json';
      delete o.json;
    }
    const res = await fetch(path, o);
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (res.status === 401 && !o.noLoginRedirect) {
      if (!redirecting && location.pathname !== '/login') {
        redirecting = true;
        if (G.routerStarted) G.navigate(G.loginUrl(), { replace: true });
        else history.replaceState(null, '', G.loginUrl());  // boot.js starts the router there
        redirecting = false;
      }
      throw new Redirected();
    }
    if (!res.ok) {
      const e = body && body.error;
      if (e) throw new ApiError(res.status, e.code, e.message);
      throw new ApiError(res.status, 'HTTP ' + res.status,
        (res.statusText || 'request failed') + (text && !body ? ': ' + text.slice(0, 200) : ''));
    }
    if (o.anyBody) return body;
    if (body === null && text) throw new ApiError(res.status, 'BAD_JSON', 'the answer is not JSON: ' + text.slice(0, 200));
    return body;
  };

  // ------------------------------------------------------- the page context

  // One per page view: its fetches, timers and charts end when the page does.
  class PageCtx {
    constructor() {
      this.alive = true;
      this.ctl = new AbortController();
      this.timers = new Set();
      this.charts = [];
      this.cleanups = [];
      this.main = document.getElementById('main');
    }
    // G.api bound to this page: aborted when the page changes, and never
    // resolving into a page that is gone.
    async api(path, opts) {
      const r = await G.api(path, Object.assign({ signal: this.ctl.signal }, opts || {}));
      if (!this.alive) {
        const e = new Error('page changed');
        e.name = 'AbortError';
        throw e;
      }
      return r;
    }
    later(fn, ms) {
      const t = setTimeout(() => { this.timers.delete(t); if (this.alive) fn(); }, ms);
      this.timers.add(t);
      return t;
    }
    onDispose(fn) { this.cleanups.push(fn); }
    // Runs an async action, showing its error unless it is a quiet one.
    guard(promise) {
      return Promise.resolve(promise).catch((err) => { if (this.alive) G.showError(err); });
    }
    dispose() {
      this.alive = false;
      this.ctl.abort();
      this.timers.forEach(clearTimeout);
      this.timers.clear();
      this.charts.forEach((c) => { try { c.destroy(); } catch (e) { /* already gone */ } });
      this.charts = [];
      this.cleanups.forEach((f) => { try { f(); } catch (e) { /* ignore */ } });
      this.cleanups = [];
    }
  }
  G.PageCtx = PageCtx;

  G.setTitle = (t) => {
    document.getElementById('page-title').textContent = t;
    document.title = t + ' · Galvatron';
  };

  // ------------------------------------------------------------------ router

  const routes = [];
  // pattern: a RegExp on location.pathname; handler(ctx, match groups
  // (decoded), URLSearchParams) renders into ctx.main.
  G.route = (pattern, handler) => routes.push({ pattern, handler });

  let current = null;

  G.render = async () => {
    if (current) current.dispose();
    const ctx = new PageCtx();
    current = ctx;
    G.clearError();
    ctx.main.innerHTML = '<p class="muted loading">Loading…</p>';
    // "ready" once the page is drawn with its data (tests and benchmarks
    // wait for it), "error" when it could not be.
    document.body.dataset.page = 'loading';
    markNav();
    const path = location.pathname.replace(/\/+$/, '') || '/';
    const query = new URLSearchParams(location.search);
    let handler = G.notFound;
    let args = [];
    for (const r of routes) {
      const m = path.match(r.pattern);
      if (m) {
        handler = r.handler;
        try {
          args = m.slice(1).map((x) => (x === undefined ? x : decodeURIComponent(x)));
        } catch (e) {
          handler = G.notFound;
        }
        break;
      }
    }
    try {
      await handler(ctx, args, query);
      if (ctx.alive && location.hash) markTarget(decodeURIComponent(location.hash.slice(1)));
      if (ctx.alive) {
        document.body.dataset.page = 'ready';
        // Milliseconds from the navigation to the drawn page (benchmarks).
        document.body.dataset.readyMs = String(Math.round(performance.now()));
      }
    } catch (err) {
      if (!ctx.alive || G.isQuiet(err)) return;
      G.showError(err);
      document.body.dataset.page = 'error';
      const loading = G.$('.loading', ctx.main);
      if (loading) loading.remove();
    }
  };

  // Scrolls to and marks the element a #hash names, once the page is drawn.
  function markTarget(id) {
    const el = document.getElementById(id);
    if (!el) return;
    el.classList.add('target');
    el.scrollIntoView({ block: 'center' });
  }

  G.navigate = (url, opts) => {
    if (opts && opts.replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    if (!(opts && opts.keepScroll)) window.scrollTo(0, 0);
    G.render();
  };

  function markNav() {
    const p = location.pathname;
    G.$$('#nav a').forEach((a) => {
      const n = a.getAttribute('data-nav');
      let on = n === '/' ? p === '/' : p === n || p.startsWith(n + '/');
      if (n === '/models' && p.startsWith('/clusters/')) on = false;
      a.classList.toggle('active', on);
    });
  }

  // Links within the dashboard change the page without reloading it; the
  // API's downloads and other origins load normally.
  function onClick(e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.hasAttribute('download') || (a.target && a.target !== '_self')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/') ||
        url.pathname.startsWith('/assets/')) return;
    e.preventDefault();
    if (url.pathname + url.search === location.pathname + location.search && !url.hash) {
      G.render();  // the same page again: reload its data
      return;
    }
    G.navigate(url.pathname + url.search + url.hash);
  }

  G.startRouter = () => {
    G.routerStarted = true;
    document.addEventListener('click', onClick);
    window.addEventListener('popstate', () => G.render());
    G.render();
  };

  // Query-string helpers for list filters.
  G.withQuery = (path, params) => {
    const q = new URLSearchParams();
    Object.keys(params).forEach((k) => {
      const v = params[k];
      if (v !== undefined && v !== null && v !== '') q.set(k, v);
    });
    const s = q.toString();
    return s ? path + '?' + s : path;
  };

  // ------------------------------------------------------------------ paging

  // A list paged through the API: load(token) fetches one page, render(resp)
  // turns it into HTML. Previous/Next walk the pageTokens seen so far.
  G.pager = (ctx, el, load, render) => {
    const tokens = [''];
    let index = 0;
    let busy = false;
    async function show() {
      busy = true;
      el.classList.add('busy');
      try {
        const resp = await load(tokens[index]);
        const next = resp && resp.nextPageToken;
        tokens.length = index + 1;
        if (next) tokens.push(next);
        const nav = (index > 0 || next) ? G.html`<div class="pager">
          <button type="button" class="small" data-page="prev" ${index === 0 ? G.raw('disabled') : ''}>Previous</button>
          <span class="muted">page ${index + 1}</span>
          <button type="button" class="small" data-page="next" ${next ? '' : G.raw('disabled')}>Next</button></div>` : '';
        el.innerHTML = String(render(resp)) + String(nav);
        G.clearError();
      } finally {
        busy = false;
        el.classList.remove('busy');
      }
    }
    el.addEventListener('click', (e) => {
      const b = e.target.closest && e.target.closest('button[data-page]');
      if (!b || busy || b.disabled) return;
      if (b.dataset.page === 'prev' && index > 0) index--;
      else if (b.dataset.page === 'next' && index + 1 < tokens.length) index++;
      else return;
      ctx.guard(show().then(() => { if (el.getBoundingClientRect().top < 0) el.scrollIntoView(); }));
    });
    return show();
  };

  // ----------------------------------------------------- shared descriptions

  G.JOB_DONE = ['JOB_STATE_SUCCEEDED', 'JOB_STATE_FAILED', 'JOB_STATE_CANCELLED'];
  G.jobFinished = (job) => G.JOB_DONE.includes(job && job.state);
  G.jobTotalSteps = (job) => G.num(job && job.training && job.training.steps) || 10;

  G.spName = (sp) => G.enumShort(sp, 'SEQUENCE_PARALLEL_', 'none');
  G.dpName = (t) => G.enumShort(t, 'DATA_PARALLEL_TYPE_', 'unspecified');
  G.scheduleName = (s) => G.enumShort(s, 'PIPELINE_SCHEDULE_', 'unspecified').toUpperCase();
  G.modeName = (m) => G.enumShort(m, 'COST_MODEL_MODE_', 'unspecified');

  // "8", "8..64", "8..64:8" from a message's oneof batch.
  G.batchText = (x) => {
    if (x.globalBatchRange) {
      const r = x.globalBatchRange;
      return `${G.num(r.min)}..${G.num(r.max)}` + (r.step ? `:${r.step}` : '');
    }
    return x.globalBatch ? String(x.globalBatch) : '–';
  };
})(window.G);
