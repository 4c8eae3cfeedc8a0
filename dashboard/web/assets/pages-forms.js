// The what-if form, the login page and the page for unknown addresses.
'use strict';

(function (G) {
  // --------------------------------------------------------------- what if

  function planResultHtml(plan) {
    const p = plan.prediction || {};
    const peak = Math.max(0, ...G.list(p.stageMemory).map((m) => G.num(m.totalBytes)));
    const budget = Math.max(0, ...G.list(p.stageMemory).map((m) => G.num(m.budgetBytes)));
    return G.html`<section class="card ok-card" id="whatif-result">
      <h2>Plan <a href="/plans/${G.enc(plan.id || '')}">${plan.id || ''}</a></h2>
      ${G.kv([
        ['Iteration', G.html`<b>${G.fmtSec(p.iterationSeconds)}</b>`],
        ['Throughput', `${G.fmtSig(p.samplesPerSecond)} samples/s, ${G.fmtInt(p.tokensPerSecond)} tokens/s`],
        ['Ranks', plan.worldSize || '–'],
        ['Pipeline', `pp ${plan.pp || 1} (${G.stageDivision(plan).join(' / ')} layers), ${G.scheduleName(plan.schedule)}`],
        ['Batch', `global ${plan.globalBatch || '–'} in ${plan.microBatches || 1} micro-batch(es)`],
        ['Peak stage memory', `${G.fmtBytes(peak)} of ${G.fmtBytes(budget)}`],
        ['Search', plan.search ? `${G.fmtSec(plan.search.wallSeconds)}, ${G.fmtInt(plan.search.statesExplored)} states` : '–'],
      ])}
      ${G.planStripHtml(plan, 'whatif-strip')}
      ${G.predictionNotes(p)}
      <p><a href="/plans/${G.enc(plan.id || '')}">Open the plan →</a></p>
    </section>`;
  }

  G.route(/^\/whatif$/, async (ctx, args, q) => {
    G.setTitle('What if');
    const session = G.session || {};
    const canPlan = session.canPlan !== false;
    // Names for the inputs' suggestions; the form works without them.
    const [models, overview] = await Promise.all([
      ctx.api('/api/models?pageSize=500').catch((e) => { if (e.name === 'AbortError') throw e; return {}; }),
      ctx.api('/api/overview').catch((e) => { if (e.name === 'AbortError') throw e; return {}; }),
    ]);
    const val = (k, d) => q.get(k) || d;
    G.setHtml(ctx.main, G.html`
      <p class="muted">Ask the planner for the best plan of a model on a cluster. With a cluster whose agents are up,
        it may first have to measure what is missing (a probe or a profile): then it answers naming the tasks; ask again
        when they have finished.</p>
      ${canPlan ? '' : G.html`<p class="warn-box" id="whatif-disabled">Your token may only look: asking for plans needs a
        <code>user</code> or <code>admin</code> token.</p>`}
      <form id="whatif-form" class="card form-grid" autocomplete="off">
        <fieldset ${canPlan ? '' : G.raw('disabled')}>
          <label>Model <input name="model" required list="whatif-models" value="${val('model', '')}" placeholder="gpt2-small"></label>
          <label>Cluster <input name="cluster" required list="whatif-clusters" value="${val('cluster', '')}"></label>
          <label>Memory per device <input name="memory" required value="${val('memory', '40GiB')}" placeholder="40GiB"></label>
          <label>Global batch <input name="globalBatch" required value="${val('globalBatch', '8')}" placeholder="8 or 8..64"
            title="N, or MIN..MAX, or MIN..MAX:STEP"></label>
          <label>Mode <select name="mode">
            <option value="default">default</option>
            <option value="galvatron" ${val('mode') === 'galvatron' ? G.raw('selected') : ''}>galvatron</option>
            <option value="galvatron-extended" ${val('mode') === 'galvatron-extended' ? G.raw('selected') : ''}>galvatron-extended</option></select></label>
          <label>Max tp <input name="maxTp" type="number" min="0" step="1" value="${val('maxTp', '0')}" title="0: any"></label>
          <label>Max pp <input name="maxPp" type="number" min="0" step="1" value="${val('maxPp', '0')}" title="0: any"></label>
          <div class="form-actions"><button type="submit" id="whatif-submit">Find a plan</button>
            <span id="whatif-status" class="muted"></span></div>
        </fieldset>
      </form>
      <datalist id="whatif-models">${G.list(models.models).map((m) => G.html`<option value="${m.name}">`)}</datalist>
      <datalist id="whatif-clusters">${G.list(overview.clusters).map((c) => G.html`<option value="${c.name}">`)}</datalist>
      <div id="whatif-out"></div>`);

    const form = document.getElementById('whatif-form');
    const out = document.getElementById('whatif-out');
    const status = document.getElementById('whatif-status');
    const button = document.getElementById('whatif-submit');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!canPlan) return;
      const f = form.elements;
      const body = {
        model: f.model.value.trim(),
        cluster: f.cluster.value.trim(),
        memory: f.memory.value.trim(),
        globalBatch: f.globalBatch.value.replace(/\s+/g, ''),
        mode: f.mode.value,
        maxTp: Math.max(0, parseInt(f.maxTp.value, 10) || 0),
        maxPp: Math.max(0, parseInt(f.maxPp.value, 10) || 0),
      };
      // The address keeps the question, so that it can be shared or reloaded.
      history.replaceState(null, '', G.withQuery('/whatif', Object.assign({}, body,
        { maxTp: body.maxTp || '', maxPp: body.maxPp || '' })));
      button.disabled = true;
      status.textContent = 'Planning…';
      out.innerHTML = '';
      G.clearError();
      const started = Date.now();
      ctx.api('/api/whatif', { json: body })
        .then((plan) => {
          status.textContent = `answered in ${G.fmtSec((Date.now() - started) / 1000)}`;
          G.setHtml(out, planResultHtml(plan));
        })
        .catch((err) => {
          if (!ctx.alive || G.isQuiet(err)) return;
          status.textContent = '';
          G.setHtml(out, G.html`<section class="card error-card" id="whatif-error"><h2>No plan</h2>
            <pre class="pre-wrap">${G.errorText(err)}</pre></section>`);
        })
        .finally(() => { if (ctx.alive) button.disabled = false; });
    });
  });

  // ----------------------------------------------------------------- login

  // Only a path on this site: never send the browser elsewhere after login.
  function safeNext(next) {
    if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return '/';
    return next;
  }

  G.route(/^\/login$/, async (ctx, args, q) => {
    G.setTitle('Log in');
    const next = safeNext(q.get('next'));
    G.setHtml(ctx.main, G.html`
      <form id="login-form" class="card login">
        <p>This dashboard asks who you are. Paste a token from the dashboard's token file.</p>
        <label>Token <input type="password" name="token" id="login-token" required autocomplete="current-password"
          autofocus></label>
        <div class="form-actions"><button type="submit" id="login-submit">Log in</button>
          <span id="login-status" class="muted"></span></div>
      </form>`);
    const form = document.getElementById('login-form');
    const status = document.getElementById('login-status');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const token = form.elements.token.value;
      const button = document.getElementById('login-submit');
      button.disabled = true;
      status.textContent = 'Checking…';
      G.clearError();
      ctx.api('/login', { json: { token }, noLoginRedirect: true, anyBody: true })
        .then(() => { location.assign(next); })  // a full load: the header learns the session anew
        .catch((err) => {
          if (!ctx.alive || G.isQuiet(err)) return;
          status.textContent = '';
          G.showError(err.status === 401 || err.status === 403
            ? new Error('That token is not accepted.' + (err.message ? ' (' + err.message + ')' : '')) : err);
        })
        .finally(() => { if (ctx.alive) button.disabled = false; });
    });
  });

  // ------------------------------------------------------------ not found

  G.notFound = async (ctx) => {
    G.setTitle('Page not found');
    G.setHtml(ctx.main, G.html`<section class="card" id="not-found"><p>There is no page at
      <code>${location.pathname}</code>.</p><p><a href="/">Go to the overview</a></p></section>`);
  };
})(window.G);
