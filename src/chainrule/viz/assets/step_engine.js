/* The page's own small engine (chainrule.viz.to_html): for graphs of scalars built from
 * the gates in page.py's ENGINE_GATES, it recomputes the forward values and the
 * gradients when the learner changes an input, and checks every gradient against a
 * central difference computed here. The rules are the gates' own, conventions
 * included: relu'(0) = 0, abs'(0) = 0, maximum/minimum ties share the gradient.
 * A test compares its numbers with chainrule's on the same inputs.
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("cr-data").textContent);
  var eng = data.engine;
  var box = document.getElementById("cr-lab");
  if (!eng || !box) return;
  var L = data.labels;

  function sig(x) { return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)); }
  // forward: inputs -> output; local: inputs, output -> d output / d input k
  var OPS = {
    Add: [function (a, b) { return a + b; }, function () { return [1, 1]; }],
    Sub: [function (a, b) { return a - b; }, function () { return [1, -1]; }],
    Mul: [function (a, b) { return a * b; }, function (a, b) { return [b, a]; }],
    Div: [function (a, b) { return a / b; }, function (a, b) { return [1 / b, -a / (b * b)]; }],
    Neg: [function (a) { return -a; }, function () { return [-1]; }],
    Pow: [function (a, p) { return Math.pow(a, p); },
          function (a, p, y) { return [p * Math.pow(a, p - 1), a > 0 ? y * Math.log(a) : 0]; }],
    Exp: [Math.exp, function (a, y) { return [y]; }],
    Log: [Math.log, function (a) { return [1 / a]; }],
    Sqrt: [Math.sqrt, function (a, y) { return [1 / (2 * y)]; }],
    Sin: [Math.sin, function (a) { return [Math.cos(a)]; }],
    Cos: [Math.cos, function (a) { return [-Math.sin(a)]; }],
    Tanh: [Math.tanh, function (a, y) { return [1 - y * y]; }],
    Sigmoid: [sig, function (a, y) { return [y * (1 - y)]; }],
    ReLU: [function (a) { return a > 0 ? a : 0; }, function (a) { return [a > 0 ? 1 : 0]; }],
    Abs: [Math.abs, function (a) { return [a > 0 ? 1 : a < 0 ? -1 : 0]; }],
    Maximum: [Math.max, function (a, b) { return a > b ? [1, 0] : a < b ? [0, 1] : [0.5, 0.5]; }],
    Minimum: [Math.min, function (a, b) { return a < b ? [1, 0] : a > b ? [0, 1] : [0.5, 0.5]; }],
    Sum: [function (a) { return a; }, function () { return [1]; }],
    Mean: [function (a) { return a; }, function () { return [1]; }]
  };

  function forward(leafValues) {
    var v = eng.values.map(function (x) { return x.value; });
    Object.keys(leafValues).forEach(function (i) { v[i] = leafValues[i]; });
    eng.gates.forEach(function (g) {
      var args = g.inputs.map(function (i) { return v[i]; });
      v[g.output] = OPS[g.cls][0].apply(null, args);
    });
    return v;
  }

  function backward(v) {
    var grad = v.map(function () { return 0; });
    grad[eng.root] = 1;
    for (var k = eng.gates.length - 1; k >= 0; k--) {
      var g = eng.gates[k];
      var args = g.inputs.map(function (i) { return v[i]; });
      var locals = OPS[g.cls][1].apply(null, args.concat([v[g.output]]));
      g.inputs.forEach(function (i, pos) { grad[i] += grad[g.output] * locals[pos]; });
    }
    return grad;
  }

  function short(x) {
    if (!isFinite(x)) return String(x);
    var s = Number(x.toPrecision(6)).toString();
    return s.indexOf(".") < 0 && s.indexOf("e") < 0 ? s + ".0" : s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var leaves = [];
  eng.values.forEach(function (x, i) { if (x.kind === "leaf") leaves.push(i); });
  var current = {};
  leaves.forEach(function (i) { current[i] = eng.values[i].value; });

  box.hidden = false;
  box.appendChild(el("h2", null, L.lab));
  box.appendChild(el("p", null, L.lab_text));
  var form = el("div", "lab-inputs");
  leaves.forEach(function (i) {
    var lab = el("label", null, eng.values[i].label + " = ");
    var inp = el("input");
    inp.type = "number";
    inp.step = "any";
    inp.value = String(current[i]);
    inp.setAttribute("data-testid", "lab-input-" + eng.values[i].label);
    inp.addEventListener("input", function () {
      var x = parseFloat(inp.value);
      if (isFinite(x)) { current[i] = x; render(); }
    });
    lab.appendChild(inp);
    form.appendChild(lab);
  });
  box.appendChild(form);
  var out = el("table", "lab-values");
  box.appendChild(out);
  var btn = el("button", null, L.numcheck);
  btn.type = "button";
  btn.setAttribute("data-testid", "numcheck");
  box.appendChild(btn);
  var checkNote = el("p", "lab-note");
  box.appendChild(checkNote);
  var check = el("table", "lab-check");
  box.appendChild(check);

  function row(table, cells, testid) {
    var tr = el("tr");
    cells.forEach(function (c) { tr.appendChild(el("td", null, c)); });
    if (testid) tr.setAttribute("data-testid", testid);
    table.appendChild(tr);
  }

  function render() {
    var v = forward(current);
    var grad = backward(v);
    out.textContent = "";
    eng.gates.forEach(function (g) {
      row(out, [eng.values[g.output].label, "= " + short(v[g.output])],
          "lab-value-" + eng.values[g.output].label);
    });
    leaves.forEach(function (i) {
      row(out, ["d" + data.root + "/d" + eng.values[i].label, "= " + short(grad[i])],
          "lab-grad-" + eng.values[i].label);
    });
    check.textContent = "";
    checkNote.textContent = "";
  }

  btn.addEventListener("click", function () {
    var v = forward(current);
    var grad = backward(v);
    check.textContent = "";
    checkNote.textContent = L.numcheck_text;
    leaves.forEach(function (i) {
      var h = 1e-6;
      var up = {}, down = {};
      Object.keys(current).forEach(function (k) { up[k] = current[k]; down[k] = current[k]; });
      up[i] += h;
      down[i] -= h;
      var num = (forward(up)[eng.root] - forward(down)[eng.root]) / (2 * h);
      var ok = Math.abs(num - grad[i]) <= 1e-6 * (1 + Math.abs(grad[i]));
      row(check, [eng.values[i].label, short(grad[i]) + " vs " + short(num),
                  ok ? L.agree : L.disagree], "lab-check-" + eng.values[i].label);
    });
  });
  render();
})();
