// Draws the dashboard's charts with uPlot (served from /dashboard/assets). Each <figure class="chart">
// carries its data as JSON in data-chart: {title, unit, x: [unix seconds], series: [{label, values}]}.
// A plain file, no build step and no inline script: the page's CSP allows scripts from 'self' only.
(function () {
  'use strict';
  var COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c'];

  function draw(figure) {
    var spec = JSON.parse(figure.getAttribute('data-chart'));
    var width = Math.max(320, Math.min(figure.clientWidth || 600, 900));
    var opts = {
      width: width,
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: spec.unit, size: 60 }],
      series: [{}].concat(
        spec.series.map(function (s, i) {
          return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, points: { show: false } };
        }),
      ),
    };
    var data = [spec.x].concat(
      spec.series.map(function (s) {
        return s.values;
      }),
    );
    new uPlot(opts, data, figure);
    figure.setAttribute('data-rendered', 'true');
  }

  function drawAll() {
    var figures = document.querySelectorAll('figure.chart[data-chart]');
    for (var i = 0; i < figures.length; i++) {
      try {
        draw(figures[i]);
      } catch (err) {
        figures[i].setAttribute('data-rendered', 'error');
        console.error('chart failed', figures[i].id, err);
      }
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', drawAll);
  else drawAll();
})();
