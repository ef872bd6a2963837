// Draws every chart of a page with uPlot (vendor/uplot): each element with a
// data-chart attribute holds {kind, x: [unix seconds], series: [{label, values}]}.
// No inline script: the Content-Security-Policy allows scripts from /console/static only.
(function () {
  "use strict";
  var COLOURS = ["#4f8cff", "#c8412d", "#2e9d5b", "#8a5cd0"];

  function draw(element) {
    var spec = JSON.parse(element.getAttribute("data-chart"));
    var bars = spec.kind === "bars" && uPlot.paths && uPlot.paths.bars;
    var series = [{}];
    spec.series.forEach(function (s, i) {
      var colour = COLOURS[i % COLOURS.length];
      series.push({
        label: s.label,
        stroke: colour,
        fill: colour + "66",
        width: bars ? 0 : 2,
        paths: bars ? uPlot.paths.bars({ size: [0.8 / spec.series.length, 40] }) : undefined,
        points: { show: !bars },
      });
    });
    var data = [spec.x].concat(spec.series.map(function (s) { return s.values; }));
    var width = Math.max(element.clientWidth, 320);
    // half a step of room on each side, so that the first and last bars show whole
    var half = spec.x.length > 1 ? (spec.x[1] - spec.x[0]) / 2 : 1800;
    var x = { time: true, range: function (u, min, max) { return [min - half, max + half]; } };
    new uPlot({ width: width, height: 220, series: series, scales: { x: x } }, data, element);
    element.setAttribute("data-drawn", String(spec.x.length));
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();
