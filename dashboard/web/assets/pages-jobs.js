// /jobs/ID: a job's state, timeline, live loss and throughput, step times,
// rank placement and log tails. While the job runs the page refreshes every
// 2 seconds in place (no reload): the charts get new data, the text is
// rewritten, and #steps-done always holds the number of steps done.
'use strict';

(function (G) {
  const REFRESH_MS = 2000;
  const RETRY_MS = 5000;
  const MAX_POINTS = 500;

  // ---------------------------------------------------------- static parts

  function skeleton(id) {
    return G.html`
      <div class="job-head card">
        <div class="stat"><b id="job-state" data-state=""></b><span>state</span></div>
        <div class="stat"><b><span id="steps-done">0</span><span class="of"> / <span id="steps-total">–</span></span></b>
          <span>steps done</span></div>
        <div class="stat"><b id="job-eta">–</b><span>left at the measured pace</span></div>
        <div class="stat"><b id="job-last-loss">–</b><span>last loss</span></div>
        <div class="job-progress"><span class="progress wide"><span id="job-progress-bar"></span></span>
          <span id="job-live" class="muted small"></span></div>
      </div>
      <div id="job-failure"></div>
      <div class="chart-grid">
        <section class="card chart-card"><h2>Loss</h2>${G.chartBox('job-loss-chart', 'tall', 'loss')}
          <p id="job-loss-note" class="muted small"></p></section>
        <section class="card chart-card"><h2>Throughput</h2>${G.chartBox('job-throughput-chart', 'tall', 'throughput')}
          <p class="muted small">samples per second, each point the mean of its bucket of steps; dashed: the plan's prediction</p></section>
      </div>
      ${G.section('Summary', G.raw('<div id="job-summary"></div>'))}
      <div class="chart-grid">
        <section class="card chart-card"><h2>Step time: predicted and measured</h2>
          ${G.chartBox('job-steptime-chart', 'short', 'step time')}<div id="job-steptime"></div></section>
        <section class="card chart-card"><h2>Time per pipeline stage</h2>${G.chartBox('job-stage-chart', '', 'stage time')}
          <p class="muted small">last point: the mean of the last bucket of steps; median: of the steps after the warm-up</p></section>
      </div>
      ${G.section('State timeline', G.raw('<ol id="job-timeline" class="timeline"></ol>'))}
      ${G.section('Rank placement', G.raw('<div id="job-placement"></div>'))}
      ${G.section(G.html`Plan <span id="job-plan-link"></span>`, G.raw('<div id="job-plan"></div>'))}
      <section class="card"><h2>Logs</h2>
        <form class="filters" id="job-log-form">
          <label>Rank <select id="job-log-rank"><option value="-1">every rank</option></select></label>
          <label>Lines <select id="job-log-lines"><option>20</option><option selected>100</option><option>500</option></select></label>
        </form>
        <div id="job-logs"><p class="muted">Loading…</p></div>
      </section>
      <p class="muted small">Job ${id}.</p>`;
  }

  // ------------------------------------------------------------ renderers

  function summaryHtml(job, plan) {
    const t = job.training || {};
    const cp = job.checkpoint;
    const ex = job.exportedModel;
    return G.kv([
      ['Model', G.html`${G.modelLink(job.model)}${job.modelVersion ? ` v${G.num(job.modelVersion)}` : ''}`],
      ['Cluster', G.clusterLink(job.cluster)],
      ['Plan', G.planLink(job.planId)],
      ['Ranks', job.worldSize || '–'],
      ['Nodes asked for', G.list(job.nodes).join(', ') || 'every alive node'],
      ['Memory budget', G.fmtBytes(job.memoryBudgetBytes) + ' per device'],
      ['Global batch', job.globalBatch || job.globalBatchRange ? G.batchText(job)
        : plan && plan.globalBatch ? `${plan.globalBatch} (the plan's)` : '–'],
      ['Training', `${G.fmtInt(G.jobTotalSteps(job))} steps, seed ${G.num(t.seed) || 1234}, ${t.dataset || 'synthetic'} data, ` +
        `${t.dtype || 'float32'}` + (t.learningRate ? `, lr ${G.fmtSig(t.learningRate)}` : '') +
        (t.checkpointEvery ? `, checkpoint every ${G.fmtInt(t.checkpointEvery)}` : '') +
        (t.maxRestarts ? `, up to ${t.maxRestarts} restart(s)` : '')],
      ['Attempt', String(job.attempt || 0)],
      ['Training task', job.trainTaskId ? G.taskLink(job.trainTaskId) : '–'],
      ['Measuring tasks', G.list(job.taskIds).length ? G.list(job.taskIds).map((id) => G.html`${G.taskLink(id)} `) : undefined],
      ['Checkpoint', cp ? `step ${G.fmtInt(cp.step)}${cp.complete ? ', complete' : ''} (ranks ${G.rangesText(cp.ranksWritten)})` : 'none yet'],
      ['Exported model', ex ? `${ex.path || ''} on ${ex.node || ''} (${G.fmtBytes(ex.sizeBytes)})` : undefined],
      ['Owner', job.owner || undefined],
      ['Created', G.timeCell(job.createdAt)],
      ['Updated', G.timeCell(job.updatedAt)],
      ['Message', G.html`<span class="pre-wrap">${job.message || '–'}</span>`],
    ]);
  }

  function failureHtml(job) {
    const f = job.failure;
    if (!f) return '';
    return G.html`<section class="card error-card"><h2>Failure</h2>${G.kv([
      ['Rank', G.num(f.rank) < 0 ? 'not one rank' : String(f.rank || 0)],
      ['Node', f.node || '–'],
      ['Exit status', f.exitStatus || '–'],
    ])}${f.logTail ? G.html`<pre class="log">${f.logTail}</pre>` : ''}</section>`;
  }

  function timelineHtml(job) {
    const tr = G.list(job.transitions);
    if (!tr.length) return G.html`<li class="muted">No state changes recorded.</li>`;
    const done = G.jobFinished(job);
    return G.html`${tr.map((t, i) => {
      const start = G.parseTime(t.time);
      const next = i + 1 < tr.length ? G.parseTime(tr[i + 1].time) : (done ? null : new Date());
      const dur = start && next ? (next - start) / 1000 : null;
      return G.html`<li><span class="when">${G.timeCell(t.time)}</span> ${G.badge(t.state, 'JOB_STATE_')}
        ${dur !== null ? G.html`<span class="muted small">${G.fmtSec(Math.max(0, dur))}${i + 1 === tr.length ? ' so far' : ''}</span>` : ''}
        <div class="reason">${t.reason || ''}</div></li>`;
    })}`;
  }

  // Node -> its ranks and devices; a rank's colour is its pipeline stage.
  function placementHtml(job, plan) {
    const ranks = G.list(job.ranks);
    if (!ranks.length) return G.html`<p class="muted">Not placed yet.</p>`;
    const stageOf = new Map();
    if (plan) G.stageRanks(plan).forEach((rs, s) => rs.forEach((r) => stageOf.set(Number(r), s)));
    const nodes = new Map();
    ranks.forEach((r) => {
      const n = r.node || '?';
      if (!nodes.has(n)) nodes.set(n, []);
      nodes.get(n).push(r);
    });
    const stages = new Set(stageOf.values());
    return G.html`<div class="nodes-grid">${Array.from(nodes, ([node, rs]) => G.html`<div class="node-card">
        <div class="node-name">${node} <span class="muted small">${rs.length} rank(s)</span></div>
        <div class="chips">${rs.sort((a, b) => (a.rank || 0) - (b.rank || 0)).map((r) => {
          const s = stageOf.get(r.rank || 0);
          return G.html`<span class="chip" style="border-color:${s === undefined ? '#999' : G.color(s)}"
            title="rank ${r.rank || 0} on ${node}, device ${r.deviceIndex || 0}${s === undefined ? '' : ', stage ' + s}">
            rank ${r.rank || 0}<small>dev ${r.deviceIndex || 0}</small></span>`;
        })}</div></div>`)}</div>
      ${stages.size > 1 ? G.html`<ul class="legend">${Array.from(stages).sort((a, b) => a - b).map((s) => G.html`<li>
        <span class="swatch" style="background-color:${G.color(s)}"></span>stage ${s}</li>`)}</ul>` : ''}`;
  }

  function stepTimeHtml(job) {
    const st = job.stepTime || {};
    const pred = G.num(st.predictedSeconds);
    const meas = G.num(st.measuredSeconds);
    // Rank 0's waits for communication against the prediction's exposed
    // communication (without the gradient sync) and its gradient sync.
    const b = st.predictedBreakdown || {};
    const predSync = G.num(b.gradientSyncSeconds);
    const predComm = Math.max(0, G.num(b.exposedCommunicationSeconds) - predSync);
    const waited = (measured, predicted) => st.waitsMeasured
      ? G.fmtSec(G.num(measured)) + ' (predicted ' + G.fmtSec(predicted) + ')'
      : '–';
    return G.kv([
      ['Predicted', pred ? G.fmtSec(pred) : '–'],
      ['Measured (median)', meas ? G.fmtSec(meas) : 'not yet'],
      ['Measured / predicted', pred && meas ? '× ' + G.fmtSig(meas / pred) : '–'],
      ['Spread', meas ? G.fmtSig(st.measuredSpread) + ' (p90 − p10) / median' : '–'],
      ['Steps measured', G.fmtInt(st.stepsMeasured)],
      ['Waited for communication', waited(st.measuredCommunicationWaitSeconds, predComm)],
      ['Waited for the gradient sync', waited(st.measuredSyncWaitSeconds, predSync)],
    ], 'compact');
  }

  // -------------------------------------------------------- chart data

  function lossData(points) {
    const xy = (k) => points.map((p) => ({ x: G.num(p.step), y: G.num(p[k]) }));
    return {
      datasets: [
        { label: 'bucket highest', data: xy('lossMax'), borderWidth: 0, pointRadius: 0, fill: '+1',
          backgroundColor: G.alpha(G.color(0), 0.18), borderColor: 'transparent' },
        { label: 'bucket lowest', data: xy('lossMin'), borderWidth: 0, pointRadius: 0, fill: false,
          backgroundColor: G.alpha(G.color(0), 0.18), borderColor: 'transparent' },
        { label: 'loss (bucket mean)', data: xy('loss'), borderColor: G.color(0), backgroundColor: G.color(0),
          borderWidth: 1.5, pointRadius: points.length > 60 ? 0 : 2 },
      ],
    };
  }

  function throughputData(points, plan) {
    const data = points.map((p) => ({ x: G.num(p.step), y: G.num(p.samplesPerSecond) }));
    const sets = [{ label: 'samples/s', data, borderColor: G.color(2), backgroundColor: G.color(2),
      borderWidth: 1.5, pointRadius: points.length > 60 ? 0 : 2 }];
    const predicted = plan && G.num((plan.prediction || {}).samplesPerSecond);
    if (predicted && data.length) {
      sets.push({ label: 'predicted', data: [{ x: data[0].x, y: predicted }, { x: data[data.length - 1].x, y: predicted }],
        borderColor: G.color(3), borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0 });
    }
    return { datasets: sets };
  }

  function stepTimeBars(job, plan) {
    const st = job.stepTime || {};
    const breakdown = st.predictedBreakdown || (plan && plan.prediction && plan.prediction.breakdown) || {};
    const predicted = G.num(st.predictedSeconds) || G.num(plan && plan.prediction && plan.prediction.iterationSeconds);
    const measured = G.num(st.measuredSeconds);
    return [
      { label: 'predicted', breakdown, total: predicted },
      { label: 'measured', breakdown: {}, measured, total: measured },
    ];
  }

  function stageData(job, last) {
    const lastStages = G.list(last && last.stageSeconds).map(G.num);
    const median = G.list((job.stepTime || {}).measuredStageSeconds).map(G.num);
    const n = Math.max(lastStages.length, median.length);
    const labels = [];
    for (let i = 0; i < n; i++) labels.push('stage ' + i);
    return {
      labels,
      datasets: [
        { label: 'last point', data: lastStages, backgroundColor: G.color(0) },
        { label: 'median', data: median, backgroundColor: G.color(4) },
      ],
    };
  }

  // From step 0 to the last step fetched (not rounded up to a tick).
  const stepAxis = () => ({ type: 'linear', min: 0, bounds: 'data', title: { display: true, text: 'step' }, ticks: { precision: 0 } });

  function makeCharts(ctx) {
    return {
      loss: G.makeChart(ctx, 'job-loss-chart', {
        type: 'line',
        data: lossData([]),
        options: {
          parsing: false,
          scales: { x: stepAxis(), y: { title: { display: true, text: 'loss' } } },
          plugins: {
            legend: { labels: { filter: (item) => !item.text.startsWith('bucket') } },
            tooltip: { mode: 'index', callbacks: { label: (it) => `${it.dataset.label}: ${G.fmtSig(it.parsed.y, 5)}` } },
          },
        },
      }),
      throughput: G.makeChart(ctx, 'job-throughput-chart', {
        type: 'line',
        data: throughputData([], null),
        options: {
          parsing: false,
          scales: { x: stepAxis(), y: { beginAtZero: true, title: { display: true, text: 'samples/s' } } },
          plugins: { tooltip: { callbacks: { label: (it) => `${it.dataset.label}: ${G.fmtSig(it.parsed.y)}` } } },
        },
      }),
      stepTime: G.makeChart(ctx, 'job-steptime-chart', G.timeChartConfig([])),
      stages: G.makeChart(ctx, 'job-stage-chart', {
        type: 'bar',
        data: stageData({}, null),
        options: {
          scales: { y: G.secondsAxis('seconds per step') },
          plugins: { tooltip: { callbacks: { label: (it) => `${it.dataset.label}: ${G.fmtSec(it.parsed.y)}` } } },
        },
      }),
    };
  }

  // ----------------------------------------------------------------- logs

  // Log tails, one box per rank. Boxes are kept between refreshes: only a
  // changed text is rewritten, and a box scrolled to its end stays there.
  function drawLogs(el, resp) {
    const logs = G.list(resp && resp.logs).slice().sort((a, b) => (a.rank || 0) - (b.rank || 0));
    if (!logs.length) {
      el.innerHTML = '<p class="muted">No log lines yet.</p>';
      return;
    }
    const key = logs.map((l) => l.rank || 0).join(',');
    if (el.dataset.ranks !== key) {
      el.dataset.ranks = key;
      G.setHtml(el, G.html`${logs.map((l) => G.html`<div class="log-box">
        <div class="log-head">rank ${l.rank || 0} on ${l.node || '?'} <span class="muted small" data-updated></span></div>
        <pre class="log" data-rank="${l.rank || 0}"></pre></div>`)}`);
    }
    logs.forEach((l) => {
      const pre = el.querySelector(`pre[data-rank="${l.rank || 0}"]`);
      if (!pre) return;
      const head = pre.parentNode.querySelector('[data-updated]');
      if (head) head.textContent = l.updatedAt ? 'updated ' + G.fmtTime(l.updatedAt) : '';
      const text = l.text || '';
      if (pre.textContent === text) return;
      const atEnd = !pre.textContent || pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = text;
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
  }

  function fillRankOptions(select, job) {
    const n = Math.max(G.num(job.worldSize), G.list(job.ranks).length);
    if (Number(select.dataset.n || 0) === n) return;
    select.dataset.n = String(n);
    const keep = select.value;
    const opts = ['<option value="-1">every rank</option>'];
    for (let r = 0; r < n; r++) opts.push(`<option value="${r}">rank ${r}</option>`);
    select.innerHTML = opts.join('');
    select.value = Number(keep) < n ? keep : '-1';
  }

  // ----------------------------------------------------------------- page

  G.route(/^\/jobs\/([^/]+)$/, async (ctx, args) => {
    const id = args[0];
    const base = '/api/jobs/' + G.enc(id);
    G.setTitle('Job ' + id);
    const first = await ctx.api(base);
    let job = first.job || {};
    let plan = null;  // set by showPlan: a job has none before it is planned
    G.setHtml(ctx.main, skeleton(id));
    const charts = makeCharts(ctx);
    const $ = (x) => document.getElementById(x);
    const rankSel = $('job-log-rank');
    const linesSel = $('job-log-lines');

    function showPlan(p) {
      if (!p || (plan && plan.id === p.id)) return;
      plan = p;
      G.setHtml($('job-plan-link'), G.planLink(plan.id));
      G.setHtml($('job-plan'), G.planStripHtml(plan, 'job-plan-strip'));
    }

    function showJob(j, p) {
      job = j;
      showPlan(p);
      const done = G.jobFinished(j);
      const state = $('job-state');
      state.textContent = G.enumShort(j.state, 'JOB_STATE_', 'unspecified');
      state.dataset.state = j.state || 'JOB_STATE_UNSPECIFIED';
      state.className = 'st-text st-' + state.textContent;
      $('steps-done').textContent = String(G.num(j.stepsDone));
      $('steps-total').textContent = String(G.jobTotalSteps(j));
      $('job-progress-bar').style.width = Math.min(100, (G.num(j.stepsDone) / G.jobTotalSteps(j)) * 100).toFixed(1) + '%';
      $('job-eta').textContent = !done && G.num(j.etaSeconds) ? G.fmtDuration(j.etaSeconds) : '–';
      const lm = j.lastMetrics;
      $('job-last-loss').textContent = lm && lm.loss !== undefined ? G.fmtSig(lm.loss, 5) : '–';
      $('job-live').textContent = done ? 'finished' : 'live: refreshing every 2 s';
      G.setHtml($('job-summary'), summaryHtml(j, plan));
      G.setHtml($('job-failure'), failureHtml(j));
      G.setHtml($('job-timeline'), timelineHtml(j));
      G.setHtml($('job-placement'), placementHtml(j, plan));
      G.setHtml($('job-steptime'), stepTimeHtml(j));
      G.updateChart(charts.stepTime, G.timeChartConfig(stepTimeBars(j, plan)).data);
      fillRankOptions(rankSel, j);
    }

    function showMetrics(m) {
      const points = G.list(m && m.points);
      G.updateChart(charts.loss, lossData(points));
      G.updateChart(charts.throughput, throughputData(points, plan));
      const last = (m && m.last) || points[points.length - 1] || null;
      G.updateChart(charts.stages, stageData(job, last));
      const bucket = G.num(m && m.bucketSteps);
      $('job-loss-note').textContent = points.length
        ? `${points.length} point(s)` + (bucket > 1 ? `, each the mean of ${bucket} steps; the band: the bucket's lowest and highest loss` : '')
        : 'No steps yet.';
    }

    const logsUrl = () => G.withQuery(base + '/logs', { rank: rankSel.value, lines: linesSel.value });
    const reloadLogs = () => ctx.guard(ctx.api(logsUrl()).then((l) => drawLogs($('job-logs'), l)));
    rankSel.addEventListener('change', reloadLogs);
    linesSel.addEventListener('change', reloadLogs);
    $('job-log-form').addEventListener('submit', (e) => e.preventDefault());

    G.setHtml($('job-plan'), G.html`<p class="muted">No plan yet.</p>`);
    showJob(job, first.plan);

    // One round: the job, its metrics and its logs; again in 2 s while the
    // job is not finished, and once more after it finished if the metrics
    // did not yet say so.
    let finalRound = false;
    async function round(withJob) {
      const [j, m, l] = await Promise.all([
        // The plan only while the page has not got the job's plan yet.
        withJob ? ctx.api(plan && plan.id === job.planId ? base + '?plan=false' : base)
                : Promise.resolve(null),
        ctx.api(`${base}/metrics?maxPoints=${MAX_POINTS}`),
        ctx.api(logsUrl()),
      ]);
      if (j) showJob(j.job || job, j.plan);
      showMetrics(m);
      drawLogs($('job-logs'), l);
      return m;
    }
    async function loop(withJob) {
      let delay = REFRESH_MS;
      try {
        const m = await round(withJob);
        G.clearError();
        if (G.jobFinished(job)) {
          if (finalRound || (m && m.jobFinished)) return;  // the end: stop refreshing
          finalRound = true;
        }
      } catch (err) {
        if (!ctx.alive || G.isQuiet(err)) return;
        G.showError(err);
        delay = RETRY_MS;
      }
      ctx.later(() => loop(true), delay);
    }
    await loop(false);
  });
})(window.G);
