// /plans/ID: a plan's layer strip, stages, memory, time breakdown,
// runners-up, search statistics and downloads.
'use strict';

(function (G) {
  // ------------------------------------------------------------ the strip

  function strategyKey(l) {
    return [l.tp || 1, l.sp || '', l.dp || 1, l.dpType || '', l.checkpoint ? 1 : 0].join('|');
  }
  G.strategyText = (l) => {
    const sp = G.spName(l.sp);
    return [`tp ${l.tp || 1}`, sp === 'none' ? 'no SP' : `${sp} SP`, `dp ${l.dp || 1} ${G.dpName(l.dpType)}`,
      l.checkpoint ? 'checkpointing' : 'no checkpointing'].join(' · ');
  };
  // "0–3, 8, 10–11"
  G.rangesText = (nums) => {
    const s = G.list(nums).map(Number).sort((a, b) => a - b);
    const out = [];
    for (let i = 0; i < s.length; i++) {
      let j = i;
      while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
      out.push(j > i ? `${s[i]}–${s[j]}` : String(s[i]));
      i = j;
    }
    return out.join(', ');
  };

  // Layers per stage: pp_division, else the layers split evenly.
  G.stageDivision = (plan) => {
    const n = G.list(plan.layers).length;
    const pp = plan.pp || 1;
    const div = G.list(plan.ppDivision).map(Number);
    if (div.length === pp && div.reduce((a, b) => a + b, 0) === n) return div;
    const out = [];
    for (let s = 0; s < pp; s++) out.push(Math.floor((n * (s + 1)) / pp) - Math.floor((n * s) / pp));
    return out;
  };

  // Ranks of each stage (Plan.stages; StageLayout.stage is absent for 0).
  G.stageRanks = (plan) => {
    const m = new Map();
    G.list(plan.stages).forEach((s) => m.set(s.stage || 0, G.list(s.ranks)));
    return m;
  };

  // The layers as coloured blocks (a colour per distinct strategy, stripes
  // for checkpointing) grouped by pipeline stage, and the legend.
  G.planStripHtml = (plan, id) => {
    const layers = G.list(plan.layers);
    if (!layers.length) return G.html`<p class="muted">This plan has no layers.</p>`;
    const keys = new Map();
    layers.forEach((l) => {
      const k = strategyKey(l);
      if (!keys.has(k)) keys.set(k, { i: keys.size, l, count: 0 });
      keys.get(k).count++;
    });
    const div = G.stageDivision(plan);
    const ranks = G.stageRanks(plan);
    let first = 0;
    const stages = div.map((count, s) => {
      const mine = layers.slice(first, first + count);
      const start = first;
      first += count;
      const r = ranks.get(s);
      const span = count > 1 ? `layers ${start}–${start + count - 1}` : count ? `layer ${start}` : 'no layers';
      const label = `stage ${s} · ${span}` + (r ? ` · ranks ${G.rangesText(r)}` : '');
      return G.html`<div class="stage" style="flex:${Math.max(count, 1)} 1 0" title="${label}">
        <div class="stage-label">${label}</div>
        <div class="blocks">${mine.map((l, j) => {
          const k = keys.get(strategyKey(l));
          return G.html`<div class="layer${l.checkpoint ? ' ckpt' : ''}" style="background-color:${G.color(k.i)}"
            data-layer="${start + j}" title="layer ${start + j} · stage ${s} · ${G.strategyText(l)}"><span>${start + j}</span></div>`;
        })}</div></div>`;
    });
    const legend = Array.from(keys.values()).map((k) => G.html`<li><span class="swatch${k.l.checkpoint ? ' ckpt' : ''}"
      style="background-color:${G.color(k.i)}"></span><span>${G.strategyText(k.l)}
      <span class="muted">(${k.count} layer${k.count > 1 ? 's' : ''})</span></span></li>`);
    return G.html`<div class="strip-wrap"><div id="${id}" class="strip" data-pp="${plan.pp || 1}">${stages}</div></div>
      <ul class="legend">${legend}<li><span class="swatch ckpt plain"></span>striped: activation checkpointing</li></ul>`;
  };

  // --------------------------------------------------------------- charts

  // Memory per stage, stacked by kind, with the budget as a dash per stage.
  function memoryChartConfig(pred) {
    const mem = G.list(pred.stageMemory).slice().sort((a, b) => (a.stage || 0) - (b.stage || 0));
    const unit = G.byteUnit(Math.max(0, ...mem.map((m) => Math.max(G.num(m.totalBytes), G.num(m.budgetBytes)))));
    const part = (k) => mem.map((m) => G.num(m[k]) / unit.div);
    // Whatever the total holds beyond the three named parts.
    const rest = mem.map((m) => Math.max(0, G.num(m.totalBytes) - G.num(m.modelStateBytes) -
      G.num(m.activationBytes) - G.num(m.otherBytes)) / unit.div);
    const bar = (label, data, colour) => ({ label, data, backgroundColor: colour, stack: 'm', pointStyle: 'rect' });
    // The planner splits a stage into its layers (model states and
    // activations together) and the rest; a split of the layers' part is
    // shown when a plan carries one.
    const split = mem.some((m) => G.num(m.modelStateBytes) > 0 || G.num(m.activationBytes) > 0);
    const datasets = split ? [
      bar('model states', part('modelStateBytes'), G.color(0)),
      bar('activations', part('activationBytes'), G.color(1)),
    ] : [];
    datasets.push(bar('other (embedding, head, context, buffers)', part('otherBytes'), G.color(8)));
    if (rest.some((x) => x > 0)) {
      datasets.push(bar(split ? 'rest of total' : 'layers (model states and activations)', rest, G.color(split ? 6 : 0)));
    }
    datasets.push({
      type: 'line', label: 'budget', data: part('budgetBytes'), borderColor: '#c5283d', backgroundColor: '#c5283d',
      showLine: mem.length > 1, borderDash: [6, 4], borderWidth: 2, pointStyle: 'line', pointRadius: 24,
      pointHoverRadius: 24, pointBorderWidth: 3,
    });
    return {
      type: 'bar',
      data: { labels: mem.map((m) => 'stage ' + (m.stage || 0)), datasets },
      options: {
        scales: { x: { stacked: true }, y: Object.assign(G.bytesAxis('memory per device', unit), { stacked: true }) },
        plugins: {
          // The legend draws each dataset's point style: squares, and a dash for the budget.
          legend: { labels: { usePointStyle: true, pointStyleWidth: 14 } },
          tooltip: {
            mode: 'index',
            callbacks: {
              label: (it) => `${it.dataset.label}: ${G.fmtBytes(it.parsed.y * unit.div)}`,
              footer: (items) => (items.length ? 'total ' + G.fmtBytes(mem[items[0].dataIndex].totalBytes) : ''),
            },
          },
        },
      },
    };
  }

  // Predicted time per iteration, stacked by what it is spent on.
  G.timeChartConfig = (bars) => {
    const parts = [
      ['computeSeconds', 'compute', 0],
      ['exposedCommunicationSeconds', 'exposed communication', 1],
      ['bubbleSeconds', 'pipeline bubble', 3],
    ];
    return {
      type: 'bar',
      data: {
        labels: bars.map((b) => b.label),
        totals: bars.map((b) => b.total),
        datasets: parts.map((p) => ({
          label: p[1], data: bars.map((b) => G.num((b.breakdown || {})[p[0]])), backgroundColor: G.color(p[2]), stack: 't',
        })).concat(bars.some((b) => b.measured !== undefined) ? [{
          label: 'measured', data: bars.map((b) => (b.measured === undefined ? 0 : G.num(b.measured))),
          backgroundColor: G.color(4), stack: 't',
        }] : []),
      },
      options: {
        indexAxis: 'y',
        scales: { x: Object.assign(G.secondsAxis('seconds per iteration'), { stacked: true }), y: { stacked: true } },
        plugins: {
          tooltip: {
            mode: 'index',
            filter: (it) => it.parsed.x !== 0,
            callbacks: {
              label: (it) => `${it.dataset.label}: ${G.fmtSec(it.parsed.x)}`,
              // data.totals: the iteration time of each bar (its parts may
              // overlap, so it need not be their sum); read from the chart so
              // that it follows chart.data replaced by a live page.
              footer: (items) => {
                const t = items.length && G.list(items[0].chart.data.totals)[items[0].dataIndex];
                return t ? 'iteration ' + G.fmtSec(t) : '';
              },
            },
          },
        },
      },
    };
  };

  // -------------------------------------------------------------- tables

  function runnersUpTable(plan) {
    const best = G.num((plan.prediction || {}).iterationSeconds);
    return G.table([
      { h: '#', f: (r, i) => i + 1, cls: 'num' },
      { h: 'Iteration', f: (r) => G.fmtSec((r.prediction || {}).iterationSeconds), cls: 'num' },
      { h: 'vs best', f: (r) => (best ? '+' + G.fmtSig(((G.num((r.prediction || {}).iterationSeconds) / best) - 1) * 100) + ' %' : '–'), cls: 'num' },
      { h: 'Samples/s', f: (r) => G.fmtSig((r.prediction || {}).samplesPerSecond), cls: 'num' },
      { h: 'PP', f: (r) => r.pp || 1, cls: 'num' },
      { h: 'Micro-batches', f: (r) => r.microBatches || 1, cls: 'num' },
      { h: 'Global batch', f: (r) => r.globalBatch || '–', cls: 'num' },
      { h: 'Schedule', f: (r) => G.scheduleName(r.schedule) },
      { h: 'Peak stage memory', f: (r) => G.fmtBytes(Math.max(0, ...G.list((r.prediction || {}).stageMemory).map((m) => G.num(m.totalBytes)))), cls: 'num' },
      { h: 'Compute', f: (r) => G.fmtSec(((r.prediction || {}).breakdown || {}).computeSeconds || 0), cls: 'num' },
      { h: 'Exposed comm.', f: (r) => G.fmtSec(((r.prediction || {}).breakdown || {}).exposedCommunicationSeconds || 0), cls: 'num' },
      { h: 'Bubble', f: (r) => G.fmtSec(((r.prediction || {}).breakdown || {}).bubbleSeconds || 0), cls: 'num' },
      { h: 'Description', f: (r) => G.html`<span class="mono small">${r.description || ''}</span>` },
    ], G.list(plan.runnersUp), { empty: 'No runners-up were kept.' });
  }

  function requestKv(req) {
    const r = req || {};
    return G.kv([
      ['Memory budget', G.fmtBytes(r.memoryBudgetBytes) + ' per device'],
      ['Global batch', G.batchText(r)],
      ['Sequence length', r.seqLen || "the model's"],
      ['Mode', G.modeName(r.mode)],
      ['Max tp', r.maxTp || 'any'],
      ['Max pp', r.maxPp || 'any'],
      ['Micro-batches', r.microBatches || 'searched'],
      ['Schedules', G.list(r.schedules).map(G.scheduleName).join(', ') || 'any'],
      ['Disabled', G.list(r.disable).join(', ') || 'nothing'],
      ['Precision', r.precision ? G.enumShort(r.precision, 'PRECISION_') : undefined],
      ['Time limit', r.timeLimitSeconds ? G.fmtSec(r.timeLimitSeconds) : 'default'],
      ['Hardware version', r.hardwareProfileVersion ? 'v' + G.num(r.hardwareProfileVersion) : undefined],
      ['Estimate missing', r.estimateMissing ? 'yes' : undefined],
      ['Uncalibrated', r.uncalibrated ? 'yes' : undefined],
    ]);
  }

  // The search tasks in which no plan fitted, closest to fitting first
  // (SearchStatistics.infeasible_tasks, at most a few of them).
  function infeasibleHtml(s) {
    const tasks = G.list(s.infeasibleTasks);
    const total = G.num(s.infeasibleTasksTotal) || tasks.length;
    if (!total) return '';
    return G.html`<h3>Where nothing fitted (${G.fmtInt(total)} task${total > 1 ? 's' : ''}${tasks.length < total
      ? `, the ${tasks.length} closest shown` : ''})</h3>${G.table([
      { h: 'PP', f: (t) => t.pp || 1, cls: 'num' },
      { h: 'Micro-batches', f: (t) => t.microBatches || 1, cls: 'num' },
      { h: 'Global batch', f: (t) => t.globalBatch || '–', cls: 'num' },
      { h: 'Schedule', f: (t) => G.scheduleName(t.schedule) },
      { h: 'Short by', f: (t) => (G.num(t.extraBytesNeeded) ? G.fmtBytes(t.extraBytesNeeded) : '–'), cls: 'num' },
      { h: 'Why', f: (t) => G.html`<span class="pre-wrap">${t.reason || ''}</span>` },
    ], tasks)}`;
  }

  function searchKv(s) {
    if (!s) return G.html`<p class="muted">No search statistics.</p>`;
    return G.kv([
      ['Wall time', G.fmtSec(s.wallSeconds)],
      ['Tasks', `${G.fmtInt(s.tasksDone)} of ${G.fmtInt(s.tasksTotal)}`],
      ['States explored', G.fmtInt(s.statesExplored)],
      ['Threads', s.threads || '–'],
      ['Time limit hit', s.timeLimitHit ? G.html`<span class="bad">yes: the best plan found before the limit</span>` : 'no'],
      ['Infeasible tasks', G.num(s.infeasibleTasksTotal) ? G.fmtInt(s.infeasibleTasksTotal) : undefined],
    ]);
  }

  G.predictionNotes = (pred) => {
    const p = pred || {};
    const items = G.list(p.warnings).map((w) => G.html`<li>${w}</li>`);
    return G.html`${p.analyticEstimate ? G.html`<p class="note">Partly estimated: at least one layer type had no measured compute profile and was estimated from FLOPs.</p>` : ''}
      ${p.note ? G.html`<p class="note">${p.note}</p>` : ''}
      ${items.length ? G.html`<div class="warn-box"><b>Warnings</b><ul>${items}</ul></div>` : ''}`;
  };

  G.planSummaryKv = (plan) => {
    const p = plan.prediction || {};
    const e = plan.embedding || {};
    return G.kv([
      ['Model', G.html`${G.modelLink(plan.model)}${plan.modelVersion ? ` v${G.num(plan.modelVersion)}` : ''}`],
      ['Cluster', G.clusterLink(plan.cluster)],
      ['Ranks', plan.worldSize || '–'],
      ['Pipeline', `pp ${plan.pp || 1}, ${G.scheduleName(plan.schedule)}, ${G.enumShort(plan.partitionMethod, 'PARTITION_METHOD_', 'unspecified')} partition`],
      ['Layers per stage', G.stageDivision(plan).join(' / ')],
      ['Batch', `global ${plan.globalBatch || '–'} in ${plan.microBatches || 1} micro-batch(es), sequence ${plan.seqLen || '–'}`],
      ['Embedding', `vocab tp ${e.vocabTp || 1}, ${G.spName(e.sp)} SP, ${G.dpName(e.dpType)}`],
      ['Iteration', G.html`<b>${G.fmtSec(p.iterationSeconds)}</b>`],
      ['Throughput', `${G.fmtSig(p.samplesPerSecond)} samples/s, ${G.fmtInt(p.tokensPerSecond)} tokens/s`],
      ['Mode', G.modeName(plan.mode)],
      ['Hardware profile', plan.hardwareProfileId ? G.html`<a href="/clusters/${G.enc(plan.cluster || '')}?version=${
        (String(plan.hardwareProfileId).match(/-(\d+)$/) || ['', ''])[1]}">${plan.hardwareProfileId}</a>` : '–'],
      ['Compute profiles', G.html`<span class="mono small">${G.list(plan.computeProfileIds).join(', ') || '–'}</span>`],
      ['Calibration', plan.calibration ? `${plan.calibration.id || ''}: compute × ${G.fmtSig(plan.calibration.computeFactor, 4)},` +
        ` communication × ${G.fmtSig(plan.calibration.communicationFactor, 4)},` +
        ` gradient sync × ${G.fmtSig(plan.calibration.syncFactor || plan.calibration.communicationFactor, 4)}` : 'none'],
      ['Profiles alone', plan.rawPrediction ? G.fmtSec(plan.rawPrediction.iterationSeconds) + ' per iteration' : undefined],
      ['Created', G.timeCell(plan.createdAt)],
    ]);
  };

  // ---------------------------------------------------------------- page

  G.route(/^\/plans\/([^/]+)$/, async (ctx, args) => {
    const id = args[0];
    G.setTitle('Plan ' + id);
    const plan = await ctx.api('/api/plans/' + G.enc(id));
    const pred = plan.prediction || {};
    const bars = [{ label: 'predicted', breakdown: pred.breakdown, total: pred.iterationSeconds }];
    if (plan.rawPrediction) {
      bars.push({ label: 'profiles alone', breakdown: plan.rawPrediction.breakdown, total: plan.rawPrediction.iterationSeconds });
    }
    G.setHtml(ctx.main, G.html`
      <p class="links">Download:
        <a href="/api/plans/${G.enc(id)}/plan.json" download="${id}.json">plan.json</a> ·
        <a href="/api/plans/${G.enc(id)}/galvatron.json" download="${id}-galvatron.json">galvatron.json</a>
        (Galvatron's strategy file)</p>
      ${G.section('Summary', G.html`${G.planSummaryKv(plan)}${G.predictionNotes(pred)}`)}
      ${G.section('Layers and pipeline stages', G.planStripHtml(plan, 'plan-strip'))}
      <div class="chart-grid">
        <section class="card chart-card"><h2>Memory per stage</h2>${G.chartBox('plan-memory-chart', 'tall', 'memory per stage')}</section>
        <section class="card chart-card"><h2>Time per iteration</h2>${G.chartBox('plan-time-chart', 'short', 'time breakdown')}
          ${G.kv([
            ['Compute', G.fmtSec(G.num((pred.breakdown || {}).computeSeconds))],
            ['Exposed communication', G.fmtSec(G.num((pred.breakdown || {}).exposedCommunicationSeconds))],
            ['Pipeline bubble', G.fmtSec(G.num((pred.breakdown || {}).bubbleSeconds))],
            ['Iteration', G.fmtSec(pred.iterationSeconds)],
          ], 'compact')}</section>
      </div>
      ${G.section('Runners-up', runnersUpTable(plan))}
      <div class="chart-grid">
        ${G.section('Search', searchKv(plan.search))}
        ${G.section('Request', requestKv(plan.request))}
      </div>
      ${plan.search && infeasibleHtml(plan.search) ? G.section('', infeasibleHtml(plan.search)) : ''}`);
    if (G.list(pred.stageMemory).length) G.makeChart(ctx, 'plan-memory-chart', memoryChartConfig(pred));
    else G.setHtml(document.getElementById('plan-memory-chart').parentNode, '<p class="muted">No memory prediction.</p>');
    G.makeChart(ctx, 'plan-time-chart', G.timeChartConfig(bars));
  });
})(window.G);
