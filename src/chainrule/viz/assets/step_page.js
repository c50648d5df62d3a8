/* The step-through page of chainrule.viz.to_html: no dependencies, inline in every page.
 *
 * The page embeds the graph as SVG and the steps as JSON (#cr-data). Step 0 shows the
 * inputs; then one step per gate of the forward pass; then the start of the backward
 * pass; then one step per gate in the order backward visits them; then the result.
 * show(i) recomputes the whole display for step i, so buttons, keys and the slider
 * can jump anywhere. Text is always inserted with textContent (never as HTML).
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("cr-data").textContent);
  var L = data.labels;
  var steps = data.steps;
  var last = steps.length - 1;
  var cur = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }
  function fmt(s, fields) {
    return s.replace(/\{(\w+)\}/g, function (m, k) { return k in fields ? fields[k] : m; });
  }
  function setCls(node, name, on) { if (node) node.classList.toggle(name, !!on); }

  var edgeEls = data.edges.map(function (e, k) {
    return { g: $("cr-e" + k), val: $("cr-ev" + k), grad: $("cr-eg" + k), path: null };
  });
  edgeEls.forEach(function (x) { if (x.g) x.path = x.g.querySelector("path"); });
  var gateEls = data.gates.map(function (g, i) { return $("cr-g" + i); });
  var leafEls = data.leaves.map(function (lf) { return $("cr-vg" + lf.id); });

  var slider = $("cr-slider");
  slider.max = String(last);
  var graphBox = $("cr-graph");

  // the gradients table: one row per input, filled in as its gradient becomes final
  var gradCells = [];
  var table = $("cr-grads");
  data.leaves.forEach(function (lf) {
    var tr = el("tr");
    tr.appendChild(el("td", "n", lf.d));
    var td = el("td", "g", L.pending);
    td.setAttribute("data-testid", "grad-" + lf.name);
    td.setAttribute("data-name", lf.name);
    tr.appendChild(td);
    table.appendChild(tr);
    gradCells.push(td);
  });

  function phaseName(p) {
    return p === "forward" ? L.forward : L.backward;
  }

  // practice mode: backward steps ask for the local and downstream gradients first
  var practiceBox = $("cr-practice");
  var solved = {};
  var TOL_TEXT = "1e-4 · (1 + |x|)";
  function practicing() { return !!(practiceBox && practiceBox.checked); }
  function close(text, want) {
    var x = parseFloat(String(text).replace(",", "."));
    return isFinite(x) && Math.abs(x - want) <= 1e-4 * (1 + Math.abs(want));
  }
  function hiding(k) {  // a gradient the learner has not found yet stays hidden
    var st = steps[cur];
    return practicing() && !solved[cur] && st.phase === "backward" && st.chain &&
      st.chain.some(function (c) { return c.localNum !== undefined; }) && k === cur;
  }

  function renderDetail(st) {
    var asks = null;
    var box = $("cr-detail");
    box.className = "card detail " + st.phase;
    box.textContent = "";
    box.appendChild(el("div", "kicker", phaseName(st.phase)));
    var h = el("h2", null, st.title);
    h.setAttribute("data-testid", "step-title");
    box.appendChild(h);
    if (st.formula) {
      var f = el("div", "formula", st.formula);
      if (st.calc) f.appendChild(el("span", "calc", "= " + st.calc));
      box.appendChild(f);
    }
    if (st.chain) {
      var head = el("div", "eqhead");
      head.appendChild(el("span", "up", L.upstream));
      head.appendChild(document.createTextNode(" × " + L.local + " = "));
      head.appendChild(el("span", "down", L.downstream));
      box.appendChild(head);
      var quiz = practicing() && !solved[cur] &&
        st.chain.some(function (c) { return c.localNum !== undefined; });
      if (quiz) box.appendChild(el("p", "note", L.practice_hint));
      var asks = [];
      st.chain.forEach(function (c) {
        var row = el("div", "link");
        row.setAttribute("data-testid", "chain-row");
        row.appendChild(el("span", "to", "→ " + c.name));
        if (quiz && c.localNum !== undefined) {
          var q = el("span", "eq");
          q.appendChild(el("span", "up", c.up));
          q.appendChild(el("span", "op", " × "));
          var li = el("input");
          li.type = "text"; li.size = 7; li.setAttribute("data-testid", "ask-local-" + c.name);
          q.appendChild(li);
          q.appendChild(el("span", "op", " = "));
          var di = el("input");
          di.type = "text"; di.size = 7; di.setAttribute("data-testid", "ask-down-" + c.name);
          q.appendChild(di);
          row.appendChild(q);
          asks.push({ c: c, local: li, down: di });
          box.appendChild(row);
          return;
        }
        if (c.const) {
          row.appendChild(el("span", "const", c.const));
        } else {
          var eq = el("span", "eq");
          eq.appendChild(el("span", "up", c.up));
          eq.appendChild(el("span", "op", " × "));
          eq.appendChild(el("span", "local", c.local));
          eq.appendChild(el("span", "op", " = "));
          eq.appendChild(el("span", "down", c.down));
          row.appendChild(eq);
        }
        box.appendChild(row);
      });
    }
    if (asks && asks.length) {
      var fb = el("div", "feedback");
      fb.setAttribute("data-testid", "feedback");
      var chk = el("button", "primary", L.check);
      chk.type = "button";
      chk.setAttribute("data-testid", "ask-check");
      var rev = el("button", null, L.reveal);
      rev.type = "button";
      rev.setAttribute("data-testid", "ask-reveal");
      chk.addEventListener("click", function () {
        var ok = asks.every(function (a) {
          return close(a.local.value, a.c.localNum) && close(a.down.value, a.c.downNum);
        });
        if (ok) { solved[cur] = true; show(cur); return; }
        fb.textContent = fmt(L.wrong, { tol: TOL_TEXT, rule: st.rule || "", up: asks[0].c.up });
        fb.className = "feedback wrong";
      });
      rev.addEventListener("click", function () { solved[cur] = true; show(cur); });
      var bar = el("div", "askbar");
      bar.appendChild(chk);
      bar.appendChild(rev);
      box.appendChild(bar);
      box.appendChild(fb);
    } else if (practicing() && solved[cur] && st.chain) {
      var good = st.chain.filter(function (c) { return c.localNum !== undefined; })[0];
      if (good) {
        var okEl = el("div", "feedback right",
                      fmt(L.right, { up: good.up, local: good.local, down: good.down }));
        okEl.setAttribute("data-testid", "feedback");
        box.appendChild(okEl);
      }
    }
    (st.notes || []).forEach(function (n) { box.appendChild(el("div", "note", n)); });
    if (st.text) box.appendChild(el("p", null, st.text));
    if (st.rule) {
      var r = el("div", "rule");
      r.appendChild(el("b", null, L.rule));
      r.appendChild(document.createTextNode(st.rule));
      box.appendChild(r);
    }
    if (st.items && st.items.length) {
      var ul = el("ul", "items");
      st.items.forEach(function (it) { ul.appendChild(el("li", null, it)); });
      box.appendChild(ul);
    }
  }

  function keepVisible(node) {
    if (!node || !graphBox.getBoundingClientRect) return;
    var r = node.getBoundingClientRect();
    var c = graphBox.getBoundingClientRect();
    if (r.left < c.left + 20) graphBox.scrollLeft -= (c.left + 20 - r.left);
    else if (r.right > c.right - 20) graphBox.scrollLeft += (r.right - c.right + 20);
    if (r.top < c.top + 20) graphBox.scrollTop -= (c.top + 20 - r.top);
    else if (r.bottom > c.bottom - 20) graphBox.scrollTop += (r.bottom - c.bottom + 20);
  }

  function show(i) {
    cur = Math.max(0, Math.min(last, i | 0));
    var st = steps[cur];
    var g = st.gate;
    var fwdGate = st.phase === "forward" ? g : null;
    var bwdGate = st.phase === "backward" ? g : null;
    var seedStep = data.gates.length + 1;

    data.edges.forEach(function (e, k) {
      var x = edgeEls[k];
      if (!x.g) return;
      var known = cur >= e.fwd;
      var hasGrad = e.bwd !== null && cur >= e.bwd;
      setCls(x.val, "hidden", !known);
      setCls(x.grad, "hidden", !hasGrad || hiding(e.bwd));
      setCls(x.grad, "fresh", e.bwd === cur);
      setCls(x.g, "pending", !known);
      var fw = fwdGate !== null && (e.to === fwdGate || e.from === fwdGate);
      var bw = (bwdGate !== null && (e.to === bwdGate || e.from === bwdGate)) ||
        (cur === seedStep && st.phase === "backward" && e.to === null);
      setCls(x.g, "active-fwd", fw);
      setCls(x.g, "active-bwd", bw);
      if (x.path) {
        // backward: the arrow turns round, pointing the way the gradient flows
        if (bw) {
          x.path.removeAttribute("marker-end");
          x.path.setAttribute("marker-start", "url(#cr-arrow-bwd)");
        } else {
          x.path.removeAttribute("marker-start");
          x.path.setAttribute("marker-end", "url(#cr-arrow" + (fw ? "-fwd" : "") + ")");
        }
      }
    });
    data.gates.forEach(function (gt, i2) {
      var n = gateEls[i2];
      if (!n) return;
      setCls(n, "pending", cur < gt.fwd);
      setCls(n, "current-fwd", i2 === fwdGate);
      setCls(n, "current-bwd", i2 === bwdGate);
      setCls(n, "visited-bwd", gt.bwd !== null && cur > gt.bwd);
    });
    data.leaves.forEach(function (lf, k) {
      var ready = lf.step !== null && cur >= lf.step && !hiding(lf.step);
      setCls(leafEls[k], "hidden", !ready);
      var td = gradCells[k];
      td.textContent = ready ? lf.text : L.pending;
      td.setAttribute("data-value", ready ? lf.text : "");
      setCls(td, "ready", ready);
    });

    renderDetail(st);
    document.body.className = "phase-" + st.phase;
    var ph = $("cr-phase");
    ph.textContent = phaseName(st.phase);
    ph.className = "phase " + st.phase;
    $("cr-counter").textContent = fmt(L.step, { i: cur + 1, n: last + 1 });
    slider.value = String(cur);
    slider.setAttribute("aria-valuetext", st.title);
    $("cr-first").disabled = cur === 0;
    $("cr-prev").disabled = cur === 0;
    $("cr-next").disabled = cur === last;
    $("cr-last").disabled = cur === last;
    if (g !== null && g !== undefined) keepVisible(gateEls[g]);
  }

  $("cr-first").addEventListener("click", function () { show(0); });
  $("cr-prev").addEventListener("click", function () { show(cur - 1); });
  $("cr-next").addEventListener("click", function () { show(cur + 1); });
  $("cr-last").addEventListener("click", function () { show(last); });
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  if (practiceBox) practiceBox.addEventListener("change", function () { show(cur); });
  document.addEventListener("keydown", function (ev) {
    if (ev.target === slider || ev.target.tagName === "INPUT" || ev.altKey || ev.ctrlKey ||
        ev.metaKey) return;
    var k = ev.key;
    if (k === "ArrowRight") show(cur + 1);
    else if (k === "ArrowLeft") show(cur - 1);
    else if (k === "Home") show(0);
    else if (k === "End") show(last);
    else return;
    ev.preventDefault();
  });
  show(0);
})();
