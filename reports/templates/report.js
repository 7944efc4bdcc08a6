"use strict";
(function () {
  const started = performance.now();
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE = 100;
  const outcomes = data.outcomes;
  const adapters = data.adapters;
  const body = document.getElementById("matrix-body");
  const info = document.getElementById("page-info");
  const detail = document.getElementById("detail");
  const detailBody = document.getElementById("detail-body");
  const selects = {};
  let visible = [];
  let page = 0;
  let selectedCell = null;

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function outcomeAt(row, column) {
    const code = data.cells[row][column];
    return code === "-" ? null : outcomes[parseInt(code, 36)];  // one base-36 digit per outcome
  }

  // Filters: one select per parameter, with the values the cases have.
  const selectsHolder = document.getElementById("filter-selects");
  for (const name of data.filters) {
    const values = new Set();
    for (const c of data.cases) for (const v of c[name]) values.add(v);
    const sorted = [...values].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
    const label = element("label", {}, name.replace("_", " ") + " ");
    const select = element("select", { id: "filter-" + name, "data-filter": name });
    select.appendChild(element("option", { value: "" }, "any"));
    for (const v of sorted) select.appendChild(element("option", { value: v }, v));
    select.addEventListener("change", apply);
    label.appendChild(select);
    selectsHolder.appendChild(label);
    selects[name] = select;
  }
  const outcomeSelect = document.getElementById("filter-outcome");
  const search = document.getElementById("search");
  outcomeSelect.addEventListener("change", apply);
  search.addEventListener("input", apply);
  document.getElementById("clear-filters").addEventListener("click", function () {
    for (const select of Object.values(selects)) select.value = "";
    outcomeSelect.value = "";
    search.value = "";
    apply();
  });
  document.getElementById("prev").addEventListener("click", function () { if (page > 0) { page--; render(); } });
  document.getElementById("next").addEventListener("click", function () {
    if ((page + 1) * PAGE < visible.length) { page++; render(); }
  });
  document.getElementById("close-detail").addEventListener("click", function () {
    detail.hidden = true;
    if (selectedCell) selectedCell.classList.remove("selected");
  });

  function keeps(row) {
    const c = data.cases[row];
    const text = search.value.trim().toLowerCase();
    if (text && !c.id.toLowerCase().includes(text)) return false;
    for (const [name, select] of Object.entries(selects)) {
      if (select.value && !c[name].includes(select.value)) return false;
    }
    const wanted = outcomeSelect.value;
    if (wanted) {
      let found = false;
      for (let column = 0; column < adapters.length && !found; column++) {
        const outcome = outcomeAt(row, column);
        found = outcome !== null && (wanted === "not pass" ? outcome !== "pass" : outcome === wanted);
      }
      if (!found) return false;
    }
    return true;
  }

  function apply() {
    visible = [];
    for (let row = 0; row < data.cases.length; row++) if (keeps(row)) visible.push(row);
    page = 0;
    render();
  }

  function render() {
    const rows = visible.slice(page * PAGE, (page + 1) * PAGE);
    const fragment = document.createDocumentFragment();
    let family = null;
    for (const row of rows) {
      const c = data.cases[row];
      if (c.family !== family) {
        family = c.family;
        const header = element("tr", { class: "family" });
        header.appendChild(element("th", { colspan: adapters.length + 1 }, family));
        fragment.appendChild(header);
      }
      const tr = element("tr", { "data-row": row });
      tr.appendChild(element("td", { class: "case" }, c.id));
      for (let column = 0; column < adapters.length; column++) {
        const outcome = outcomeAt(row, column);
        const detailed = data.details[row + ":" + column] !== undefined;  // non-passes, and refusals of must-reject cases
        const td = element("td", {
          class: "cell o-" + (outcome || "none") + (detailed ? " clickable" : ""),
          title: adapters[column] + ": " + (outcome || "not run") + (c.violates && outcome === "pass" ? " (refused, as it must)" : ""),
          "data-outcome": outcome || "none",
          "data-column": column,
        });
        if (detailed) td.addEventListener("click", function () { show(row, column, td); });
        tr.appendChild(td);
      }
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    const first = visible.length ? page * PAGE + 1 : 0;
    info.textContent = "cases " + first + "–" + (page * PAGE + rows.length) + " of " + visible.length +
      " shown (" + data.cases.length + " in all)";
    document.getElementById("prev").disabled = page === 0;
    document.getElementById("next").disabled = (page + 1) * PAGE >= visible.length;
  }

  function shape(list) {
    return "(" + list.join(", ") + (list.length === 1 ? ",)" : ")");
  }

  function number(value) {
    return typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toPrecision(4)) : String(value);
  }

  function drawErrorMap(map) {
    // map: fractions of bad elements per bin; nested once per spatial axis (3-D: slices side by side).
    let slices = [map];
    if (!Array.isArray(map[0])) slices = [[map]];
    else if (Array.isArray(map[0][0])) slices = map;
    const cell = 14;
    const rows = slices[0].length;
    const columns = slices[0][0].length;
    const canvas = element("canvas", {
      width: slices.length * (columns * cell + 4),
      height: rows * cell,
      class: "error-map",
      "aria-label": "error map: darker red where more elements are out of tolerance",
    });
    const context = canvas.getContext("2d");
    slices.forEach(function (slice, s) {
      slice.forEach(function (line, r) {
        line.forEach(function (fraction, col) {
          const shade = Math.round(255 * (1 - fraction));
          context.fillStyle = fraction > 0 ? "rgb(255," + shade + "," + shade + ")" : "#f4f6f8";
          context.fillRect(s * (columns * cell + 4) + col * cell, r * cell, cell - 1, cell - 1);
        });
      });
    });
    return canvas;
  }

  function show(row, column, td) {
    const d = data.details[row + ":" + column];
    if (!d) return;
    if (selectedCell) selectedCell.classList.remove("selected");
    selectedCell = td;
    td.classList.add("selected");
    const c = data.cases[row];
    const m = d.metrics || {};
    const parts = [];
    parts.push(element("h3", {}, adapters[column] + " on " + c.id));
    const outcomeLine = element("p", {});
    outcomeLine.appendChild(element("span", { class: "dot o-" + d.outcome }));
    outcomeLine.appendChild(document.createTextNode(d.outcome + (d.raw !== d.outcome ? " (the framework's result: " + d.raw + ")" : "") +
      (d.outcome === "pass" ? "" : d.explained ? ", explained by the divergence register" : ", NOT explained by the divergence register")));
    parts.push(outcomeLine);
    if (c.violates) {
      parts.push(element("p", { class: "shape" }, "An invalid configuration the framework's documentation forbids (violates " +
        c.violates + "): refusing it is the pass."));
    }
    if (d.raw === "accepted_invalid") {
      parts.push(element("p", { class: "shape" }, "Accepted it and returned an output" +
        (m.actual_shape ? " of shape " + shape(m.actual_shape) : "") + "."));
      parts.push(element("p", {}, m.reading ? "The values are explained by reading the arguments as: " + m.reading :
        "No reading of the invalid arguments explains the values."));
    } else if (d.raw === "pass" && c.violates) {
      const stages = { construction: "Refused at construction.", call: "Refused at the call." };
      parts.push(element("p", {}, stages[m.stage] || "Refused (at an unknown stage)."));
    } else if (d.raw === "dtype_mismatch") {
      parts.push(element("p", { class: "shape" }, "output dtype " + m.output_dtype + ", but the case's dtype is " + m.expected_dtype));
      if (m.values) parts.push(element("p", {}, m.values === "pass" ? "The values are within tolerance of the reference." :
        "The values compared with the reference: " + m.values));
    } else if (d.raw === "suite_error") {
      parts.push(element("p", { class: "shape" }, "The suite's own handling of the output failed: not the framework's fault."));
    }
    if (m.actual_shape && m.expected_shape) {
      parts.push(element("p", { class: "shape" }, "expected " + shape(m.expected_shape) + ", got " + shape(m.actual_shape)));
    } else if (m.expected_shape && (d.raw === "value_mismatch" || d.raw === "nonfinite")) {
      parts.push(element("p", { class: "shape" }, "shape " + shape(m.expected_shape) + " as expected; values differ"));
    }
    const figures = [
      ["max abs error", m.max_abs_error], ["max rel error", m.max_rel_error],
      ["worst error / tolerance", m.max_error_over_tolerance], ["bad elements", m.bad_count],
      ["bad fraction", m.bad_fraction], ["non-finite elements", m.nonfinite_count],
      ["worst index", m.worst_index ? shape(m.worst_index) : undefined], ["expected there", m.worst_expected],
      ["got there", m.worst_actual], ["tolerance there", m.worst_tolerance], ["output dtype", m.output_dtype],
    ].filter(function (pair) { return pair[1] !== undefined && pair[1] !== null; });
    if (m.observed_window) {
      const w = m.observed_window;
      figures.push(["window returned", "cropped " + shape(w.begin) + " at the start, " + shape(w.end) +
        " at the end, " + shape(w.appended) + " zeros appended (of the full output)"]);
    } else if (m.observed_window === null) {
      figures.push(["window returned", "none of the full output's windows matches"]);
    }
    if (figures.length) {
      const dl = element("dl", {});
      for (const [name, value] of figures) {
        dl.appendChild(element("dt", {}, name));
        dl.appendChild(element("dd", {}, number(value)));
      }
      parts.push(dl);
    }
    if (m.error_map) {
      parts.push(element("p", { class: "small" }, "Where the bad values lie (binned over the output's spatial axes; rows: first axis, columns: last):"));
      parts.push(drawErrorMap(m.error_map));
    }
    if (d.message !== null) parts.push(element("pre", { class: "message" }, data.strings[d.message]));
    if (d.divergence) {
      const box = element("div", { class: "divergence" });
      const line = element("p", {}, "Divergence ");
      line.appendChild(element("a", { href: "#register-" + d.divergence.id }, d.divergence.id));
      line.appendChild(document.createTextNode(": " + data.strings[d.divergence.reason]));
      box.appendChild(line);
      for (const link of d.divergence.links) {
        if (/^https?:\/\//.test(link)) {
          const a = element("a", { href: link, target: "_blank", rel: "noopener" }, link);
          box.appendChild(a);
          box.appendChild(element("br"));
        }
      }
      parts.push(box);
    }
    if (d.warnings && d.warnings.length) parts.push(element("p", { class: "small" }, "warnings: " + d.warnings.join("; ")));
    if (d.repro !== null) {
      const code = data.strings[d.repro];
      const button = element("button", { type: "button", class: "copy" }, "copy repro");
      const pre = element("pre", { class: "repro" }, code);
      button.addEventListener("click", function () {
        const done = function () { button.textContent = "copied"; };
        if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(code).then(done);
        else {
          const range = document.createRange();
          range.selectNodeContents(pre);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          if (document.execCommand("copy")) done();
        }
      });
      parts.push(element("p", {}, "Repro, plain framework code without this suite: "));
      parts.push(button);
      parts.push(pre);
    }
    detailBody.replaceChildren(...parts);
    detail.hidden = false;
  }

  apply();
  // performance.now() counts from the start of navigation: load, parse and first draw included.
  window.reportTimings = { scriptMs: performance.now() - started, readyMs: performance.now() };
  document.body.setAttribute("data-ready", "1");
})();
