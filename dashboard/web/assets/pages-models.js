// /models/NAME: the spec, its layer types and their compute profiles.
'use strict';

(function (G) {
  // The fitted time of a micro-batch of b samples of s tokens (LayerTimeFit).
  function fitTime(fit, b, s) {
    const f = fit || {};
    return b * (G.num(f.perSampleS2) * s * s + G.num(f.perSampleS1) * s + G.num(f.perSampleS0)) + G.num(f.constant);
  }
  function hasFit(fit) {
    const f = fit || {};
    return ['perSampleS2', 'perSampleS1', 'perSampleS0', 'constant'].some((k) => G.num(f[k]) !== 0);
  }

  // Forward and backward time against micro-batch size: the samples as
  // points, the fit as lines (one set per sequence length measured).
  function timeChartConfig(p) {
    const samples = G.list(p.timeSamples);
    const seqs = Array.from(new Set(samples.map((s) => s.seqLen || 0))).sort((a, b) => a - b).slice(0, 4);
    const maxB = Math.max(1, ...samples.map((s) => s.microBatch || 0));
    const datasets = [];
    seqs.forEach((seq, i) => {
      const mine = samples.filter((s) => (s.seqLen || 0) === seq).sort((a, b) => (a.microBatch || 0) - (b.microBatch || 0));
      const suffix = seqs.length > 1 ? ` s=${seq}` : '';
      const fwd = G.color(i * 2);
      const bwd = G.color(i * 2 + 1);
      datasets.push({ type: 'scatter', label: 'forward' + suffix, data: mine.map((s) => ({ x: s.microBatch || 0, y: G.num(s.forwardSeconds) })),
        borderColor: fwd, backgroundColor: fwd, pointRadius: 4 });
      const measuredBwd = mine.filter((s) => G.num(s.backwardSeconds) > 0);
      if (measuredBwd.length) {
        datasets.push({ type: 'scatter', label: 'backward' + suffix, data: measuredBwd.map((s) => ({ x: s.microBatch || 0, y: G.num(s.backwardSeconds) })),
          borderColor: bwd, backgroundColor: bwd, pointRadius: 4, pointStyle: 'rectRot' });
      }
      const xs = [];
      for (let b = 0; b <= maxB; b += Math.max(1, maxB / 16)) xs.push(b);
      if (xs[xs.length - 1] !== maxB) xs.push(maxB);
      if (hasFit(p.forwardFit)) {
        datasets.push({ type: 'line', label: 'forward fit' + suffix, data: xs.map((b) => ({ x: b, y: fitTime(p.forwardFit, b, seq) })),
          borderColor: fwd, borderWidth: 1.5, borderDash: [5, 3], pointRadius: 0 });
      }
      // A zero backward fit means backward = 2 × forward (compute.proto).
      const bfit = hasFit(p.backwardFit);
      if (bfit || hasFit(p.forwardFit)) {
        datasets.push({ type: 'line', label: (bfit ? 'backward fit' : 'backward = 2 × forward') + suffix,
          data: xs.map((b) => ({ x: b, y: bfit ? fitTime(p.backwardFit, b, seq) : 2 * fitTime(p.forwardFit, b, seq) })),
          borderColor: bwd, borderWidth: 1.5, borderDash: [5, 3], pointRadius: 0 });
      }
    });
    return {
      type: 'scatter',
      data: { datasets },
      options: {
        scales: {
          x: { type: 'linear', min: 0, title: { display: true, text: 'micro-batch size (samples)' }, ticks: { precision: 0 } },
          y: G.secondsAxis('time per layer'),
        },
        plugins: {
          tooltip: { callbacks: { label: (it) => `${it.dataset.label}: b=${G.fmtSig(it.parsed.x)}, ${G.fmtSec(it.parsed.y)}` } },
        },
      },
    };
  }

  // Activation memory per sample for each tp/sp sharding, with and without
  // checkpointing.
  function activationChartConfig(p) {
    const acts = G.list(p.activations).slice().sort((a, b) => (a.tpDegree || 0) - (b.tpDegree || 0) ||
      String(a.sp || '').localeCompare(String(b.sp || '')) || (a.seqLen || 0) - (b.seqLen || 0));
    const seqs = new Set(acts.map((a) => a.seqLen || 0));
    const unit = G.byteUnit(Math.max(0, ...acts.map((a) => G.num(a.bytesPerSample))));
    const labels = acts.map((a) => `tp ${a.tpDegree || 1}` + (a.sp ? ' ' + G.spName(a.sp) : '') +
      (seqs.size > 1 ? ` s=${a.seqLen || 0}` : ''));
    return {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'without checkpointing', data: acts.map((a) => G.num(a.bytesPerSample) / unit.div), backgroundColor: G.color(0) },
          { label: 'with checkpointing', data: acts.map((a) => G.num(a.checkpointBytesPerSample) / unit.div), backgroundColor: G.color(2) },
        ],
      },
      options: {
        scales: { y: G.bytesAxis('activation memory per sample', unit) },
        plugins: { tooltip: { callbacks: { label: (it) => `${it.dataset.label}: ${G.fmtBytes(it.parsed.y * unit.div)}` } } },
      },
    };
  }

  function otherMemoryTable(p) {
    return G.table([
      { h: 'Position', f: (o) => G.enumShort(o.position, 'PIPELINE_POSITION_', '–') },
      { h: 'Vocab tp', f: (o) => o.vocabTpDegree || 1, cls: 'num' },
      { h: 'Seq len', f: (o) => o.seqLen || '–', cls: 'num' },
      { h: 'Model state', f: (o) => G.fmtBytes(o.modelStateBytes), cls: 'num' },
      { h: 'Activation / sample', f: (o) => G.fmtBytes(o.activationBytesPerSample), cls: 'num' },
    ], G.list(p.otherMemory));
  }

  function profileCard(p, i) {
    const q = p.quality;
    return G.html`<section class="card">
      <h2 class="mono wrap-any">${p.layerType || '(no layer type)'}</h2>
      ${G.kv([
        ['Cluster', G.clusterLink(p.cluster)],
        ['Profile', G.html`<span class="mono">${p.id || ''}</span>`],
        ['Source', G.enumShort(p.source, 'PROFILE_SOURCE_', '–')],
        ['Parameters', `${G.fmtInt(p.parameterCount)} (${G.fmtBytes(p.parameterBytes)})`],
        ['Precision', G.enumShort(p.precision, 'PRECISION_', '–')],
        ['Measured', G.html`${G.timeCell(p.measuredAt || p.createdAt)} ${p.measuredBy ? '· ' + p.measuredBy : ''}`],
        ['Quality', q ? G.html`${q.noisy ? G.html`<span class="badge st-noisy">noisy</span> ` : 'ok, '}spread ${G.fmtSig(q.spread)}${q.note ? ' · ' + q.note : ''}` : undefined],
      ])}
      <div class="chart-grid">
        ${G.list(p.timeSamples).length || hasFit(p.forwardFit)
          ? G.html`<div class="chart-card"><h3>Time against micro-batch size</h3>${G.chartBox('cp-time-' + i, '', 'layer time')}</div>` : ''}
        ${G.list(p.activations).length
          ? G.html`<div class="chart-card"><h3>Activation memory per tp/sp mode</h3>${G.chartBox('cp-act-' + i, '', 'activation memory')}</div>` : ''}
      </div>
      ${G.list(p.otherMemory).length ? G.html`<h3>Embedding and head memory</h3>${otherMemoryTable(p)}` : ''}
    </section>`;
  }

  G.drawComputeProfiles = (ctx, el, profiles) => {
    G.setHtml(el, profiles.length ? G.html`${profiles.map(profileCard)}`
      : G.html`<p class="muted card">No compute profiles of this model yet: they are measured on a cluster when a plan needs them.</p>`);
    profiles.forEach((p, i) => {
      if (document.getElementById('cp-time-' + i)) G.makeChart(ctx, 'cp-time-' + i, timeChartConfig(p));
      if (document.getElementById('cp-act-' + i)) G.makeChart(ctx, 'cp-act-' + i, activationChartConfig(p));
    });
  };

  function specHtml(m) {
    const o = m.optimizer || {};
    const v = m.vision;
    return G.kv([
      ['Name', m.name],
      ['Description', m.description || '–'],
      ['Family', G.enumShort(m.family, 'MODEL_FAMILY_', 'unspecified')],
      ['Version', m.builtin ? 'built-in catalog model' : 'v' + G.num(m.version)],
      ['Owner', m.owner || undefined],
      ['Created', m.createdAt ? G.timeCell(m.createdAt) : undefined],
      ['Sequence length', m.seqLen || '–'],
      ['Vocabulary', m.vocabSize ? G.fmtInt(m.vocabSize) : '–'],
      ['Precision', G.enumShort(m.precision, 'PRECISION_', 'unspecified')],
      ['Tied embeddings', m.tieEmbeddings ? 'yes' : 'no'],
      ['Optimizer', G.html`${G.enumShort(o.kind, 'OPTIMIZER_KIND_', 'adamw')}, lr ${G.fmtSig(o.learningRate)}, weight decay ${G.fmtSig(o.weightDecay)},
        β ${G.fmtSig(o.beta1)}/${G.fmtSig(o.beta2)}, ε ${G.fmtSig(o.epsilon)}, clip ${G.fmtSig(o.gradClipNorm)},
        warm-up ${G.fmtInt(o.warmupSteps)} steps`],
      ['Vision', v ? `image ${v.imageSize || 0}, patch ${v.patchSize || 0}, ${v.channels || 0} channels` +
        `${v.classToken ? ', class token' : ''}, ${v.numClasses || 0} classes` : undefined],
    ]);
  }

  function layersTable(m) {
    return G.table([
      { h: 'Kind', f: (l) => G.enumShort(l.kind, 'LAYER_KIND_', 'unspecified') },
      { h: 'Count', f: (l) => l.count || 0, cls: 'num' },
      { h: 'Hidden', f: (l) => l.hidden || 0, cls: 'num' },
      { h: 'FFN hidden', f: (l) => l.ffnHidden || 0, cls: 'num' },
      { h: 'Heads', f: (l) => l.heads || 0, cls: 'num' },
      { h: 'KV heads', f: (l) => l.kvHeads || l.heads || 0, cls: 'num' },
      { h: 'Head dim', f: (l) => l.headDim || (l.heads ? Math.floor((l.hidden || 0) / l.heads) : 0), cls: 'num' },
      { h: 'Seq len', f: (l) => l.seqLen || m.seqLen || 0, cls: 'num' },
      { h: 'Bias', f: (l) => (l.bias ? 'yes' : 'no') },
    ], G.list(m.layers), { empty: 'No layers.' });
  }

  G.route(/^\/models\/([^/]+)$/, async (ctx, args) => {
    const name = args[0];
    G.setTitle('Model ' + name);
    const r = await ctx.api('/api/models/' + G.enc(name));
    const m = r.model || {};
    const profiles = G.list(r.computeProfiles);
    G.setHtml(ctx.main, G.html`
      <p class="links"><a href="${G.withQuery('/plans', { model: name })}">plans of this model</a> ·
        <a href="${G.withQuery('/whatif', { model: name })}">what if…</a></p>
      ${G.section('Spec', specHtml(m))}
      ${G.section('Layer types', layersTable(m))}
      <h2 class="outside">Compute profiles</h2>
      ${profiles.length ? G.section('', G.computeProfilesTable(profiles, true)) : ''}
      <div id="model-profiles"></div>`);
    G.drawComputeProfiles(ctx, document.getElementById('model-profiles'), profiles);
  });
})(window.G);
