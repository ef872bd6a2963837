// Draws every chart of a page with uPlot (vendor/uplot): each element with a
// data-chart attribute holds {kind, percent, x: [unix seconds], series: [{label, values}]}.
// Once drawn, the element says what it drew: data-drawn (x values) and data-drawn-series
// (the series uPlot holds), which the browser tests read.
// No inline script: the Content-Security-Policy allows scripts from /console/static only.
(function () {
  "use strict";
  var COLOURS = ["#4f8cff", "#c8412d", "#2e9d5b", "#8a5cd0", "#d08a1c", "#5f6b7a"];

  function draw(element) {
    var spec = JSON.parse(element.getAttribute("data-chart"));
    var bars = spec.kind === "bars" && uPlot.paths && uPlot.paths.bars;
    var series = [{}];
    spec.series.forEach(function (s, i) {
      var colour = COLOURS[i % COLOURS.length];
      series.push({
        label: s.label,
        stroke: colour,
        fill: bars ? colour + "66" : undefined,
        width: bars ? 0 : 2,
        paths: bars ? uPlot.paths.bars({ size: [0.8 / spec.series.length, 40] }) : undefined,
        points: { show: !bars, size: 6 },
        value: spec.percent ? function (u, v) { return v == null ? "—" : v + " %"; } : undefined,
      });
    });
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var width = Math.max(element.clientWidth, 320);
    // half a step of room on each side, so that the first and last bars show whole
    var half = spec.x.length > 1 ? (spec.x[1] - spec.x[0]) / 2 : 1800;
    var scales = { x: { time: true, range: function (u, min, max) { return [min - half, max + half]; } } };
    var axes = [{}, {}];
    if (spec.percent) {
      scales.y = { range: [0, 100] };
      axes[1] = { values: function (u, ticks) { return ticks.map(function (t) { return t + " %"; }); } };
    }
    // hours are UTC everywhere in the console, whatever the browser's time zone
    var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); };
    var plot = new uPlot(
      { width: width, height: 220, series: series, scales: scales, axes: axes, tzDate: utc },
      data,
      element
    );
    element.setAttribute("data-drawn", String(spec.x.length));
    element.setAttribute("data-drawn-series", String(plot.series.length - 1));
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();
