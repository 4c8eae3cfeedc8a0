// The overview and the paged lists: nodes, models, plans, jobs, tasks.
'use strict';

(function (G) {
  const PAGE = 50;

  // ------------------------------------------------------- shared tables

  G.jobProgress = (j) => {
    const done = G.num(j.stepsDone);
    const total = G.jobTotalSteps(j);
    const pct = Math.max(0, Math.min(100, (done / total) * 100));
    return G.html`<span class="progress" title="${done} of ${total} steps"><span style="width:${pct.toFixed(1)}%"></span></span>
      <span class="num">${G.fmtInt(done)} / ${G.fmtInt(total)}</span>`;
  };

  G.jobsTable = (jobs, empty) => G.table([
    { h: 'Job', f: (j) => G.jobLink(j.id) },
    { h: 'State', f: (j) => G.badge(j.state, 'JOB_STATE_') },
    { h: 'Model', f: (j) => G.modelLink(j.model) },
    { h: 'Cluster', f: (j) => G.clusterLink(j.cluster) },
    { h: 'Ranks', f: (j) => j.worldSize || '–', cls: 'num' },
    { h: 'Steps', f: (j) => G.jobProgress(j) },
    { h: 'Step time', f: (j) => (j.stepTime && j.stepTime.measuredSeconds ? G.fmtSec(j.stepTime.measuredSeconds) : '–'), cls: 'num' },
    { h: 'Plan', f: (j) => G.planLink(j.planId) },
    { h: 'Created', f: (j) => G.timeCell(j.createdAt) },
    { h: 'Message', f: (j) => G.html`<span class="clip" title="${j.message || ''}">${j.message || ''}</span>` },
  ], G.list(jobs), { empty: empty || 'No jobs.' });

  G.plansTable = (plans, empty) => G.table([
    { h: 'Plan', f: (p) => G.planLink(p.id) },
    { h: 'Model', f: (p) => G.modelLink(p.model) },
    { h: 'Cluster', f: (p) => G.clusterLink(p.cluster) },
    { h: 'Ranks', f: (p) => p.worldSize || '–', cls: 'num' },
    { h: 'PP', f: (p) => p.pp || 1, cls: 'num' },
    { h: 'Global batch', f: (p) => p.globalBatch || '–', cls: 'num' },
    { h: 'Micro-batches', f: (p) => p.microBatches || 1, cls: 'num' },
    { h: 'Iteration', f: (p) => G.fmtSec((p.prediction || {}).iterationSeconds), cls: 'num' },
    { h: 'Samples/s', f: (p) => G.fmtSig((p.prediction || {}).samplesPerSecond), cls: 'num' },
    { h: 'Mode', f: (p) => G.modeName(p.mode) },
    { h: 'Created', f: (p) => G.timeCell(p.createdAt) },
  ], G.list(plans), { empty: empty || 'No plans.' });

  // What a task produced: hardware profiles link to their cluster.
  function taskResults(t) {
    return G.list(t.resultIds).map((id) => (id.startsWith('hw-') && t.cluster
      ? G.html`<a href="/clusters/${G.enc(t.cluster)}">${id}</a> ` : G.html`<span class="mono">${id}</span> `));
  }
  function taskAbout(t) {
    if (t.train && t.train.jobId) return G.html`training ${G.jobLink(t.train.jobId)}`;
    if (t.profile && t.profile.model && t.profile.model.name) return G.html`profile ${G.modelLink(t.profile.model.name)}`;
    // Lists may leave the train spec out: a training task's reason is its job.
    if (t.kind === 'TASK_KIND_TRAIN' && /^job-\d+$/.test(t.reason || '')) return G.html`training ${G.jobLink(t.reason)}`;
    return t.reason || '';
  }

  G.tasksTable = (tasks, empty) => G.table([
    { h: 'Task', f: (t) => G.html`<span id="${t.id}" class="mono">${G.taskLink(t.id)}</span>` },
    { h: 'Kind', f: (t) => G.enumShort(t.kind, 'TASK_KIND_', 'unspecified') },
    { h: 'State', f: (t) => G.badge(t.state, 'TASK_STATE_') },
    { h: 'Cluster', f: (t) => G.clusterLink(t.cluster) },
    { h: 'For', f: taskAbout },
    { h: 'Progress', f: (t) => G.html`<span class="progress"><span style="width:${(Math.min(1, G.num(t.progress)) * 100).toFixed(0)}%"></span></span>
      <span class="num">${Math.round(G.num(t.progress) * 100)} %</span>` },
    { h: 'Ranks', f: (t) => t.worldSize || '–', cls: 'num' },
    { h: 'Nodes', f: (t) => G.list(t.nodes).map((n) => n.node).join(', ') || '–' },
    { h: 'Created', f: (t) => G.timeCell(t.createdAt) },
    { h: 'Finished', f: (t) => G.timeCell(t.finishedAt) },
    { h: 'Results', f: taskResults },
    { h: 'Message', f: (t) => G.html`<span class="clip" title="${t.message || t.progressMessage || ''}">${t.message || t.progressMessage || ''}</span>` },
  ], G.list(tasks), { empty: empty || 'No tasks.' });

  G.modelLayersText = (m) => G.list(m.layers).map((l) =>
    `${G.num(l.count) || 0}× ${G.enumShort(l.kind, 'LAYER_KIND_', 'unspecified')}`).join(', ');

  // A filter form above a list: fields [{name, label, type, options}].
  // Submitting it navigates to the list's address with the query.
  G.filterForm = (ctx, path, query, fields) => {
    const form = document.createElement('form');
    form.className = 'filters';
    form.innerHTML = String(G.html`${fields.map((f) => G.html`<label>${f.label}
      ${f.options
        ? G.html`<select name="${f.name}">${f.options.map((o) => G.html`<option value="${o[0]}"
            ${query.get(f.name) === o[0] || (!query.get(f.name) && !o[0]) ? G.raw('selected') : ''}>${o[1]}</option>`)}</select>`
        : G.html`<input name="${f.name}" value="${query.get(f.name) || ''}" placeholder="any" autocomplete="off">`}
      </label>`)}<button type="submit" class="small">Filter</button>`);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const params = {};
      fields.forEach((f) => { params[f.name] = form.elements[f.name].value.trim(); });
      G.navigate(G.withQuery(path, params));
    });
    return form;
  };

  // A list page: title, optional filters, a paged table.
  async function listPage(ctx, title, filters, load, render) {
    G.setTitle(title);
    ctx.main.innerHTML = '';
    if (filters) ctx.main.appendChild(filters);
    const box = document.createElement('section');
    box.className = 'card list';
    ctx.main.appendChild(box);
    await G.pager(ctx, box, (token) => ctx.api(load(token)), render);
  }

  // ------------------------------------------------------------- overview

  G.route(/^\/$/, async (ctx) => {
    G.setTitle('Overview');
    const o = await ctx.api('/api/overview');
    const clusters = G.list(o.clusters);
    const clusterRows = G.table([
      { h: 'Cluster', f: (c) => G.clusterLink(c.name) },
      { h: 'Nodes alive', f: (c) => G.html`<a href="${G.withQuery('/nodes', { cluster: c.name })}">${G.fmtInt(c.nodesAlive)}</a>`, cls: 'num' },
      { h: 'Nodes lost', f: (c) => G.html`<span class="${G.num(c.nodesLost) ? 'bad' : ''}">${G.fmtInt(c.nodesLost)}</span>`, cls: 'num' },
      { h: 'Devices', f: (c) => G.fmtInt(c.devices), cls: 'num' },
      { h: 'Hardware profile', f: (c) => hwCell(c) },
    ], clusters, { empty: 'No clusters: no agent has registered a node yet.' });
    G.setHtml(ctx.main, G.html`
      <div class="stats">
        <a class="stat" href="/nodes"><b>${G.fmtInt(o.nodesAlive)}</b><span>nodes alive</span></a>
        <a class="stat ${G.num(o.nodesLost) ? 'stat-bad' : ''}" href="/nodes"><b>${G.fmtInt(o.nodesLost)}</b><span>nodes lost</span></a>
        <a class="stat" href="/jobs?state=running"><b>${G.list(o.runningJobs).length}</b><span>jobs running</span></a>
        <div class="stat"><b>${clusters.length}</b><span>clusters</span></div>
      </div>
      ${G.section('Clusters', clusterRows)}
      ${G.section('Running jobs', G.jobsTable(o.runningJobs, 'No job is running.'))}
      ${G.section(G.html`Recent jobs <a class="more" href="/jobs">all jobs</a>`, G.jobsTable(o.recentJobs))}
      ${G.section(G.html`Recent plans <a class="more" href="/plans">all plans</a>`, G.plansTable(o.recentPlans))}
      ${G.section(G.html`Recent tasks <a class="more" href="/tasks">all tasks</a>`, G.tasksTable(o.recentTasks))}`);
  });

  // The overview's hardwareProfile of a cluster: a HardwareProfile (without
  // tables) or its id.
  function hwCell(c) {
    const h = c.hardwareProfile;
    if (!h) return G.html`<span class="muted">none</span>`;
    if (typeof h !== 'object') return G.link('/clusters/' + G.enc(c.name), String(h));
    const noisy = h.quality && h.quality.noisy ? G.html` <span class="badge st-noisy">noisy</span>` : '';
    return G.html`<a href="/clusters/${G.enc(c.name)}">${h.id || 'version ' + G.num(h.version)}</a>
      <span class="muted">v${G.num(h.version)}, ${G.fmtTime(h.createdAt)}</span>${noisy}`;
  }

  // ---------------------------------------------------------------- nodes

  function nodeDevices(n) {
    const devs = G.list(n.devices);
    if (!devs.length) return '–';
    // Usually every device of a node is alike: "8 × NVIDIA A100 (80 GiB)".
    const groups = new Map();
    devs.forEach((d) => {
      const k = `${d.name || G.enumShort(d.kind, 'DEVICE_KIND_', 'device')} (${G.fmtBytes(d.memoryBytes)})`;
      groups.set(k, (groups.get(k) || 0) + 1);
    });
    return Array.from(groups, ([k, c]) => `${c} × ${k}`).join(', ');
  }

  // Up to 1,000 rows (the planner's page): one string, one innerHTML assignment.
  function nodeTable(resp) {
    const nodes = G.list(resp.nodes);
    if (!nodes.length) return '<p class="muted">No nodes.</p>';
    const rows = nodes.map((n) => {
      const st = G.enumShort(n.state, 'NODE_STATE_', 'unspecified');
      return `<tr><td>${G.esc(n.name)}</td>` +
        `<td><a href="/clusters/${G.esc(G.enc(n.cluster || ''))}">${G.esc(n.cluster)}</a></td>` +
        `<td><span class="badge st-${G.esc(st)}">${G.esc(st)}</span></td>` +
        `<td>${G.esc(n.host)}</td><td>${G.esc(nodeDevices(n))}</td>` +
        `<td class="num">${G.num(n.cpuCores)}</td><td class="num">${G.esc(G.fmtBytes(n.memoryBytes))}</td>` +
        `<td title="${G.esc(n.lastHeartbeat)}">${G.esc(G.ago(n.lastHeartbeat))}</td>` +
        `<td>${G.esc(G.fmtTime(n.registeredAt))}</td><td>${G.esc(n.agentVersion)}</td></tr>`;
    });
    return '<div class="table-wrap"><table id="node-table"><thead><tr><th>Node</th><th>Cluster</th><th>State</th>' +
      '<th>Host</th><th>Devices</th><th class="num">CPU cores</th><th class="num">Memory</th>' +
      '<th>Last heartbeat</th><th>Registered</th><th>Agent</th></tr></thead><tbody>' +
      rows.join('') + '</tbody></table></div>' +
      `<p class="muted">${nodes.length} node(s) on this page.</p>`;
  }

  G.route(/^\/nodes$/, async (ctx, args, q) => {
    const cluster = q.get('cluster') || '';
    await listPage(ctx, cluster ? `Nodes of ${cluster}` : 'Nodes',
      G.filterForm(ctx, '/nodes', q, [{ name: 'cluster', label: 'Cluster' }]),
      (token) => G.withQuery('/api/nodes', { cluster, pageSize: 1000, pageToken: token }), nodeTable);
  });

  // ---------------------------------------------------------------- models

  G.route(/^\/models$/, async (ctx) => {
    await listPage(ctx, 'Models', null,
      (token) => G.withQuery('/api/models', { pageSize: PAGE, pageToken: token }),
      (resp) => G.table([
        { h: 'Model', f: (m) => G.modelLink(m.name) },
        { h: 'Family', f: (m) => G.enumShort(m.family, 'MODEL_FAMILY_', 'unspecified') },
        { h: 'Layers', f: (m) => G.modelLayersText(m) },
        { h: 'Hidden', f: (m) => (G.list(m.layers)[0] || {}).hidden || '–', cls: 'num' },
        { h: 'Seq len', f: (m) => m.seqLen || '–', cls: 'num' },
        { h: 'Precision', f: (m) => G.enumShort(m.precision, 'PRECISION_', 'unspecified') },
        { h: 'Version', f: (m) => (m.builtin ? 'built-in' : 'v' + G.num(m.version)) },
        { h: 'Owner', f: (m) => m.owner || '–' },
        { h: 'Description', f: (m) => G.html`<span class="clip" title="${m.description || ''}">${m.description || ''}</span>` },
      ], G.list(resp.models), { empty: 'No models.' }));
  });

  // ----------------------------------------------------------------- plans

  G.route(/^\/plans$/, async (ctx, args, q) => {
    const model = q.get('model') || '';
    const cluster = q.get('cluster') || '';
    await listPage(ctx, 'Plans',
      G.filterForm(ctx, '/plans', q, [{ name: 'model', label: 'Model' }, { name: 'cluster', label: 'Cluster' }]),
      (token) => G.withQuery('/api/plans', { model, cluster, pageSize: PAGE, pageToken: token }),
      (resp) => G.plansTable(resp.plans));
  });

  // ------------------------------------------------------------------ jobs

  const JOB_STATES = ['pending', 'profiling', 'planned', 'launching', 'running', 'succeeded', 'failed', 'cancelled'];

  G.route(/^\/jobs$/, async (ctx, args, q) => {
    const state = q.get('state') || '';
    const cluster = q.get('cluster') || '';
    await listPage(ctx, 'Jobs',
      G.filterForm(ctx, '/jobs', q, [
        { name: 'state', label: 'State', options: [['', 'any']].concat(JOB_STATES.map((s) => [s, s])) },
        { name: 'cluster', label: 'Cluster' }]),
      (token) => G.withQuery('/api/jobs', { state, cluster, pageSize: PAGE, pageToken: token }),
      (resp) => G.jobsTable(resp.jobs));
  });

  // ----------------------------------------------------------------- tasks

  G.route(/^\/tasks$/, async (ctx, args, q) => {
    const cluster = q.get('cluster') || '';
    await listPage(ctx, 'Tasks',
      G.filterForm(ctx, '/tasks', q, [{ name: 'cluster', label: 'Cluster' }]),
      (token) => G.withQuery('/api/tasks', { cluster, pageSize: PAGE, pageToken: token }),
      (resp) => G.tasksTable(resp.tasks));
  });

  // One task: what it is for, its state on each node, what it produced.
  G.route(/^\/tasks\/([^/]+)$/, async (ctx, args) => {
    const id = args[0];
    G.setTitle('Task ' + id);
    const t = await ctx.api('/api/tasks/' + G.enc(id));
    const plan = t.train && t.train.plan;
    G.setHtml(ctx.main, G.html`
      ${G.section('', G.kv([
        ['Kind', G.enumShort(t.kind, 'TASK_KIND_', 'unspecified')],
        ['State', G.badge(t.state, 'TASK_STATE_')],
        ['Cluster', G.clusterLink(t.cluster)],
        ['For', taskAbout(t)],
        ['Plan', plan && plan.id ? G.planLink(plan.id) : undefined],
        ['Progress', G.html`${Math.round(G.num(t.progress) * 100)} % ${t.progressMessage || ''}`],
        ['Ranks', t.worldSize || undefined],
        ['Store', t.storeAddress || undefined],
        ['Created', G.timeCell(t.createdAt)],
        ['Started', G.timeCell(t.startedAt)],
        ['Finished', G.timeCell(t.finishedAt)],
        ['Results', G.list(t.resultIds).length ? taskResults(t) : undefined],
        ['Message', t.message || undefined],
      ]), 'task-summary')}
      ${G.section('Nodes', G.table([
        { h: 'Node', f: (n) => n.node },
        { h: 'Ranks', f: (n) => (G.num(n.numRanks) ? `${G.num(n.firstRank)}–${G.num(n.firstRank) + G.num(n.numRanks) - 1}` : '–') },
        { h: 'State', f: (n) => G.badge(n.state, 'TASK_STATE_') },
        { h: 'Message', f: (n) => n.message || '' },
      ], G.list(t.nodes), { empty: 'No node took part yet.', id: 'task-nodes' }))}`);
  });
})(window.G);
