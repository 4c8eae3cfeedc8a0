// /clusters/NAME: the cluster's hardware profile (bandwidth charts), its
// versions, its calibration and its compute profiles.
'use strict';

(function (G) {
  const COLLECTIVES = ['COLLECTIVE_ALL_REDUCE', 'COLLECTIVE_ALL_GATHER', 'COLLECTIVE_REDUCE_SCATTER',
    'COLLECTIVE_ALL_TO_ALL'];
  const COLLECTIVE_TITLE = {
    COLLECTIVE_ALL_REDUCE: 'All-reduce',
    COLLECTIVE_ALL_GATHER: 'All-gather',
    COLLECTIVE_REDUCE_SCATTER: 'Reduce-scatter',
    COLLECTIVE_ALL_TO_ALL: 'All-to-all',
    COLLECTIVE_P2P: 'Point-to-point (pipeline neighbours)',
  };

  // nccl-tests' bus-bandwidth factor (as planner/cost/hardware_tables.cc):
  // the bytes each rank's links carry for a buffer of one byte.
  function busFactor(collective, size) {
    if (collective === 'COLLECTIVE_P2P') return 1;
    if (size <= 1) return 0;
    if (collective === 'COLLECTIVE_ALL_REDUCE') return (2 * (size - 1)) / size;
    return (size - 1) / size;
  }

  // Points {x: bytes, y: bus bandwidth in GB/s} of one collective table:
  // from its samples; else from its alpha-beta fit; else its single bus
  // bandwidth figure drawn flat from 4 KiB to 1 GiB.
  function tablePoints(t) {
    const size = t.groupSize || 0;
    const f = busFactor(t.collective, size);
    const samples = G.list(t.samples).filter((s) => G.num(s.bytes) > 0 && G.num(s.seconds) > 0);
    if (samples.length) {
      return samples.map((s) => ({ x: G.num(s.bytes), y: (G.num(s.bytes) * f) / G.num(s.seconds) / 1e9 }))
        .sort((a, b) => a.x - b.x);
    }
    const sizes = [];
    for (let b = 4096; b <= 2 ** 30; b *= 4) sizes.push(b);
    const fit = t.fit || {};
    if (G.num(fit.alphaSeconds) > 0 || G.num(fit.betaSecondsPerByte) > 0) {
      return sizes.map((b) => ({ x: b, y: (b * f) / (G.num(fit.alphaSeconds) + G.num(fit.betaSecondsPerByte) * b) / 1e9 }));
    }
    if (G.num(t.busBandwidthBytesPerSecond) > 0) {
      return sizes.map((b) => ({ x: b, y: G.num(t.busBandwidthBytesPerSecond) / 1e9 }));
    }
    return [];
  }

  function layoutName(l) {
    return G.enumShort(l, 'GROUP_LAYOUT_', '');
  }

  function tableLabel(t) {
    if (t.collective === 'COLLECTIVE_P2P') return `pp ${t.groupSize || 0}`;
    const l = layoutName(t.layout);
    return `${t.groupSize || 0} ranks${l ? ', ' + l : ''}`;
  }

  function bandwidthChartConfig(tables) {
    const sorted = tables.slice().sort((a, b) => (a.groupSize || 0) - (b.groupSize || 0) ||
      String(a.layout || '').localeCompare(String(b.layout || '')));
    return {
      type: 'line',
      data: {
        datasets: sorted.map((t, i) => ({
          label: tableLabel(t) + (G.list(t.samples).length ? '' : ' (fit)'),
          data: tablePoints(t),
          borderColor: G.color(i),
          backgroundColor: G.color(i),
          borderDash: t.layout === 'GROUP_LAYOUT_STRIDED' ? [6, 3] : [],
          pointRadius: 2,
          tension: 0,
        })),
      },
      options: {
        parsing: false,
        scales: {
          x: G.bytesLogAxis('message size'),
          y: { beginAtZero: true, title: { display: true, text: 'bus bandwidth, GB/s' } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? G.fmtBytes(items[0].parsed.x) : ''),
              label: (it) => `${it.dataset.label}: ${G.fmtSig(it.parsed.y)} GB/s`,
            },
          },
        },
      },
    };
  }

  // The hardware profile's summary and one chart per collective.
  function drawHardware(ctx, name, hw) {
    const box = document.getElementById('cluster-hardware');
    const charts = document.getElementById('cluster-bandwidth');
    // Charts of the previously shown version go first.
    ctx.charts = ctx.charts.filter((c) => {
      if (c.canvas && charts.contains(c.canvas)) { c.destroy(); return false; }
      return true;
    });
    if (!hw) {
      G.setHtml(box, G.html`<p class="muted">No hardware profile yet: run <code>galvatron profiles probe --cluster ${name}</code>,
        or ask for a plan with agents up.</p>`);
      charts.innerHTML = '';
      return;
    }
    const dev = hw.device || {};
    const q = hw.quality;
    const quality = q ? G.html`${q.noisy ? G.html`<span class="badge st-noisy">noisy</span> ` : G.html`<span class="badge st-ok">ok</span> `}
      spread ${G.fmtSig(q.spread)} (threshold ${G.fmtSig(q.spreadThreshold)}),
      load ${G.num(q.load) < 0 ? 'unknown' : G.fmtSig(q.load)} (threshold ${G.fmtSig(q.loadThreshold)}),
      ${G.num(q.attempts) || 1} attempt(s) at most` : G.html`<span class="muted">not known</span>`;
    const noisyList = q && G.list(q.noisyMeasurements).length
      ? G.html`<details><summary>${G.list(q.noisyMeasurements).length} noisy measurement(s)</summary>
          <ul class="small-list">${G.list(q.noisyMeasurements).map((m) => G.html`<li>${m}</li>`)}</ul></details>` : '';
    G.setHtml(box, G.html`
      <div class="stats">
        <div class="stat" title="compute and communication slow down by this factor when they overlap">
          <b>${G.fmtSig(hw.overlapCoefficient) || '–'}</b><span>overlap coefficient (slow-down when overlapping)</span></div>
        <div class="stat"><b>${hw.numNodes || 0} × ${hw.devicesPerNode || 0}</b><span>nodes × devices</span></div>
        <div class="stat"><b>${G.fmtBytes(dev.memoryBytes)}</b><span>per device</span></div>
      </div>
      ${G.kv([
        ['Profile', G.html`<span class="mono">${hw.id || ''}</span> (version ${G.num(hw.version)})`],
        ['Device', G.html`${dev.name || ''} (${G.enumShort(dev.kind, 'DEVICE_KIND_', 'unknown kind')})${G.num(dev.peakFlops)
          ? G.html`, ${G.fmtSig(G.num(dev.peakFlops) / 1e12)} TFLOP/s peak` : ''}`],
        ['Runtime context', G.fmtBytes(hw.runtimeContextBytes)],
        ['Source', G.enumShort(hw.source, 'PROFILE_SOURCE_', 'unspecified')],
        ['Measured by', hw.measuredBy || '–'],
        ['Measured', G.timeCell(hw.measuredAt)],
        ['Stored', G.timeCell(hw.createdAt)],
        ['Uploaded by', hw.uploadedBy || '–'],
        ['Restored from', hw.restoredFromVersion ? 'version ' + G.num(hw.restoredFromVersion) : undefined],
        ['Quality', quality],
      ])}
      ${q && q.note ? G.html`<p class="note">${q.note}</p>` : ''}${noisyList}`);

    const tables = G.list(hw.collectives);
    const groups = COLLECTIVES.concat(['COLLECTIVE_P2P']).map((c) => [c, tables.filter((t) => t.collective === c)])
      .filter((g) => g[1].length);
    if (!groups.length) {
      charts.innerHTML = '<p class="muted">This profile has no collective tables.</p>';
      return;
    }
    G.setHtml(charts, G.html`${groups.map((g, i) => G.html`<div class="chart-card">
      <h3>${COLLECTIVE_TITLE[g[0]]}</h3>${G.chartBox('bw-' + i, 'tall', COLLECTIVE_TITLE[g[0]] + ' bandwidth')}
      ${fitTable(g[1])}</div>`)}`);
    groups.forEach((g, i) => G.makeChart(ctx, 'bw-' + i, bandwidthChartConfig(g[1])));
  }

  // The alpha-beta fit and stored bus bandwidth of each table, under its chart.
  function fitTable(tables) {
    return G.html`<details><summary>fits</summary>${G.table([
      { h: 'Group', f: tableLabel },
      { h: 'Samples', f: (t) => G.list(t.samples).length, cls: 'num' },
      { h: 'α (latency)', f: (t) => G.fmtSec((t.fit || {}).alphaSeconds), cls: 'num' },
      { h: '1/β', f: (t) => (G.num((t.fit || {}).betaSecondsPerByte) > 0
        ? G.fmtSig(1 / G.num(t.fit.betaSecondsPerByte) / 1e9) + ' GB/s' : '–'), cls: 'num' },
      { h: 'Bus bandwidth', f: (t) => (G.num(t.busBandwidthBytesPerSecond) > 0
        ? G.fmtSig(G.num(t.busBandwidthBytesPerSecond) / 1e9) + ' GB/s' : '–'), cls: 'num' },
    ], tables)}</details>`;
  }

  function versionsTable(versions, shown) {
    return G.table([
      { h: 'Version', f: (v) => G.html`<button type="button" class="small link${G.num(v.version) === shown ? ' current' : ''}"
          data-version="${G.num(v.version)}">v${G.num(v.version)}</button>` },
      { h: 'Id', f: (v) => G.html`<span class="mono">${v.id || ''}</span>` },
      { h: 'Created', f: (v) => G.timeCell(v.createdAt) },
      { h: 'Uploaded by', f: (v) => v.uploadedBy || '–' },
      { h: 'Restored from', f: (v) => (v.restoredFromVersion ? 'v' + G.num(v.restoredFromVersion) : '–') },
      { h: 'Source', f: (v) => G.enumShort(v.source, 'PROFILE_SOURCE_', '–') },
      { h: 'Quality', f: (v) => (v.quality ? (v.quality.noisy ? G.html`<span class="badge st-noisy">noisy</span>` : 'ok') : '–') },
    ], versions, { empty: 'No versions.' });
  }

  function calibrationHtml(cal) {
    if (!cal) return G.html`<p class="muted">No calibration yet: it is learned from the cluster's finished jobs.</p>`;
    return G.html`${G.kv([
      ['Calibration', G.html`<span class="mono">${cal.id || ''}</span> (version ${G.num(cal.version)})`],
      ['Compute factor', G.fmtSig(cal.computeFactor, 4)],
      ['Communication factor', G.fmtSig(cal.communicationFactor, 4)],
      ['Gradient sync factor', G.fmtSig(cal.syncFactor || cal.communicationFactor, 4)],
      ['Error before', cal.samplesUsed ? G.fmtPct(cal.rawError) : '–'],
      ['Error after', cal.samplesUsed ? G.fmtPct(cal.fittedError) : '–'],
      ['Samples used', `${G.num(cal.samplesUsed)} of ${G.list(cal.samples).length}`],
      ['Created', G.timeCell(cal.createdAt)],
    ])}${cal.note ? G.html`<p class="note">${cal.note}</p>` : ''}
    ${G.table([
      { h: 'Job', f: (s) => G.jobLink(s.jobId) },
      { h: 'Plan', f: (s) => G.planLink(s.planId) },
      { h: 'Predicted compute', f: (s) => G.fmtSec(s.predictedComputeSeconds), cls: 'num' },
      { h: 'Predicted comm.', f: (s) => G.fmtSec(s.predictedCommunicationSeconds), cls: 'num' },
      { h: 'Measured', f: (s) => G.fmtSec(s.measuredSeconds), cls: 'num' },
      { h: 'Spread', f: (s) => G.fmtSig(s.measuredSpread), cls: 'num' },
      { h: 'Steps', f: (s) => G.fmtInt(s.stepsMeasured), cls: 'num' },
      { h: 'Used', f: (s) => (s.used ? 'yes' : G.html`<span class="muted">no</span>`) },
      { h: 'Why not', f: (s) => s.excludedReason || s.ignoredReason || '' },
    ], G.list(cal.samples), { empty: 'No samples.' })}`;
  }

  G.computeProfilesTable = (profiles, showCluster) => G.table([
    { h: 'Layer type', f: (p) => G.html`<span class="mono">${p.layerType || ''}</span>` },
    showCluster ? { h: 'Cluster', f: (p) => G.clusterLink(p.cluster) } : { h: 'Model', f: (p) => G.modelLink(p.model) },
    { h: 'Id', f: (p) => G.html`<span class="mono">${p.id || ''}</span>` },
    { h: 'Source', f: (p) => G.enumShort(p.source, 'PROFILE_SOURCE_', '–') },
    { h: 'Parameters', f: (p) => G.fmtInt(p.parameterCount), cls: 'num' },
    { h: 'Precision', f: (p) => G.enumShort(p.precision, 'PRECISION_', '–') },
    { h: 'Samples', f: (p) => G.list(p.timeSamples).length, cls: 'num' },
    { h: 'Quality', f: (p) => (p.quality ? (p.quality.noisy ? G.html`<span class="badge st-noisy">noisy</span>` : 'ok') : '–') },
    { h: 'Measured', f: (p) => G.timeCell(p.measuredAt || p.createdAt) },
  ], G.list(profiles), { empty: 'No compute profiles on this cluster.' });

  G.route(/^\/clusters\/([^/]+)$/, async (ctx, args, q) => {
    const name = args[0];
    G.setTitle('Cluster ' + name);
    const c = await ctx.api('/api/clusters/' + G.enc(name));
    let hw = c.hardware || null;
    const versions = G.list(c.versions);
    const wanted = G.num(q.get('version'));
    G.setHtml(ctx.main, G.html`
      <p class="links"><a href="${G.withQuery('/nodes', { cluster: name })}">nodes</a> ·
        <a href="${G.withQuery('/jobs', { cluster: name })}">jobs</a> ·
        <a href="${G.withQuery('/plans', { cluster: name })}">plans</a> ·
        <a href="${G.withQuery('/tasks', { cluster: name })}">tasks</a></p>
      <section class="card"><h2>Hardware profile <span id="hw-version" class="muted"></span></h2>
        <div id="cluster-hardware"></div></section>
      <section class="card"><h2>Bandwidth against message size</h2>
        <p class="muted small">Bus bandwidth (nccl-tests convention) of each collective, one line per group size and
          layout (dashed: strided); point-to-point per pipeline degree.</p>
        <div id="cluster-bandwidth" class="chart-grid"></div></section>
      <section class="card"><h2>Versions</h2><div id="cluster-versions"></div></section>
      <section class="card"><h2>Calibration</h2>${calibrationHtml(c.calibration)}</section>
      <section class="card"><h2>Compute profiles</h2>${G.computeProfilesTable(c.computeProfiles, false)}</section>`);

    const vbox = document.getElementById('cluster-versions');
    const show = (profile) => {
      hw = profile;
      G.setHtml(document.getElementById('hw-version'), hw ? G.html`version ${G.num(hw.version)}` : '');
      G.setHtml(vbox, versionsTable(versions, hw ? G.num(hw.version) : -1));
      drawHardware(ctx, name, hw);
    };
    // A version asked for in the address (?version=N), else the latest.
    if (wanted && (!hw || G.num(hw.version) !== wanted)) {
      show(await ctx.api(`/api/clusters/${G.enc(name)}/hardware?version=${wanted}`));
    } else {
      show(hw);
    }
    vbox.addEventListener('click', (e) => {
      const b = e.target.closest && e.target.closest('button[data-version]');
      if (!b) return;
      const v = b.dataset.version;
      ctx.guard((async () => {
        b.disabled = true;
        try {
          const p = await ctx.api(`/api/clusters/${G.enc(name)}/hardware?version=${G.enc(v)}`);
          history.replaceState(null, '', G.withQuery(location.pathname, { version: v }));
          show(p);
          G.clearError();
        } finally {
          b.disabled = false;
        }
      })());
    });
  });
})(window.G);
