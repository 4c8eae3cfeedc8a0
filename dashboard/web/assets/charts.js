// Chart.js helpers: every chart of the dashboard is drawn by Chart.js 3
// (/assets/chart.min.js, global `Chart`); these only set shared defaults,
// tie a chart's life to its page and format the axes.
'use strict';

(function (G) {
  G.PALETTE = ['#2f6fde', '#e8710a', '#1e9e5a', '#c5283d', '#8e44ad', '#0e9aa7', '#b8860b',
    '#e056a0', '#5d6d7e', '#7cb342', '#3949ab', '#a0522d'];
  // Beyond the palette: hues a golden angle apart, so that colours never
  // repeat (a plan may have many distinct layer strategies).
  G.color = (i) => (i < G.PALETTE.length ? G.PALETTE[i]
    : G.hslHex((i * 137.508) % 360, 0.55 + 0.2 * ((i >> 1) % 2), 0.42 + 0.1 * (i % 2)));
  G.hslHex = (h, s, l) => {
    const f = (n) => {
      const k = (n + h / 30) % 12;
      const c = l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
      return Math.round(c * 255).toString(16).padStart(2, '0');
    };
    return '#' + f(0) + f(8) + f(4);
  };
  // The colour with an alpha, for fills: '#2f6fde' -> 'rgba(47,111,222,0.2)'.
  G.alpha = (hex, a) => {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  };

  G.chartsReady = () => typeof window.Chart === 'function';

  if (G.chartsReady()) {
    const d = window.Chart.defaults;
    d.responsive = true;
    d.maintainAspectRatio = false;  // the .chart-box around the canvas has the height
    d.animation = false;
    d.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font').trim() ||
      'system-ui, sans-serif';
    d.font.size = 12;
    d.color = '#3c4757';
    d.plugins.legend.labels.boxWidth = 12;
    d.plugins.tooltip.mode = 'nearest';
    d.plugins.tooltip.intersect = false;
  }

  // The box a chart's canvas sits in (it has the height; the canvas fills
  // its width). cls: "tall" or "short".
  G.chartBox = (id, cls, label) => G.html`<div class="chart-box ${cls || ''}">
    <canvas id="${id}" role="img" aria-label="${label || id}"></canvas></div>`;

  // A chart on the canvas with this id (or element), destroyed with the page.
  G.makeChart = (ctx, canvas, config) => {
    const el = typeof canvas === 'string' ? document.getElementById(canvas) : canvas;
    if (!el) return null;
    if (!G.chartsReady()) {
      el.parentNode.innerHTML = '<p class="muted">Charts are unavailable: /assets/chart.min.js did not load.</p>';
      return null;
    }
    const chart = new window.Chart(el.getContext('2d'), config);
    ctx.charts.push(chart);
    return chart;
  };

  // Replaces a chart's data in place, without animation (live pages).
  G.updateChart = (chart, data) => {
    if (!chart) return;
    chart.data = data;
    chart.update('none');
  };

  // Ticks of a logarithmic byte axis at powers of two (4 KiB, 16 KiB, ...)
  // instead of Chart.js's 1-2-5 decades.
  G.bytesLogAxis = (title) => ({
    type: 'logarithmic',
    bounds: 'data',  // not widened to the decade below the smallest message
    title: { display: !!title, text: title },
    afterBuildTicks: (axis) => {
      const lo = Math.max(1, axis.min);
      const hi = axis.max;
      let p = 2 ** Math.floor(Math.log2(lo));
      const all = [];
      while (p <= hi * 1.0001) { if (p >= lo / 1.0001) all.push(p); p *= 2; }
      // at most ~8 labels: every 2nd, 4th, ... power
      const stride = Math.max(1, Math.ceil(all.length / 8));
      axis.ticks = all.filter((v, i) => i % stride === 0).map((value) => ({ value }));
    },
    ticks: { callback: (v) => G.fmtBytes(v), maxRotation: 0, autoSkip: false },
  });

  G.secondsAxis = (title) => ({
    title: { display: !!title, text: title },
    ticks: { callback: (v) => G.fmtSec(v), maxRotation: 0 },
    beginAtZero: true,
  });
  // Byte charts plot their data in one binary unit chosen from the largest
  // value, so that the axis gets round ticks (0, 0.5, 1 GiB).
  G.byteUnit = (max) => {
    const names = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let i = 0;
    while (i < names.length - 1 && max >= 1024 ** (i + 1)) i++;
    return { div: 1024 ** i, name: names[i] };
  };
  G.bytesAxis = (title, unit) => ({
    title: { display: !!title, text: `${title}, ${unit.name}` },
    beginAtZero: true,
  });
})(window.G);
