"use strict";
(function () {
  const started = performance.now();
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE = 100;
  const adapters = data.adapters;
  const CODES = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const groupOf = {};
  for (const [group, members] of Object.entries(data.groups)) for (const outcome of members) groupOf[outcome] = group;
  const allAdapters = document.getElementById("all-adapters");
  const head = document.getElementById("matrix-head");
  const body = document.getElementById("matrix-body");
  const info = document.getElementById("page-info");
  const detail = document.getElementById("detail");
  const detailBody = document.getElementById("detail-body");
  const selects = {};
  let visible = [];
  let page = 0;
  let selectedCell = null;
  let opened = 0;  // how many details were asked for: only the latest one asked is drawn

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // A cell's character: the raw outcome's index plus data.raw.length times the mark's (reports/html.py cell_code).
  function cellAt(row, column) {
    const code = data.cells[row][column];
    if (code === "-") return null;
    const n = CODES.indexOf(code);
    return { raw: data.raw[n % data.raw.length], mark: data.marks[Math.floor(n / data.raw.length)] };
  }

  function unexplained(cell) {  // as records say: a non-pass nothing explains, or a pass where an entry expected a failure
    return cell.mark === "xpass" || (cell.mark === "" && cell.raw !== "pass");
  }

  function hasDetail(row, column) {  // the rule the report's builder writes details by (html.has_detail)
    const cell = cellAt(row, column);
    return cell !== null && (cell.raw !== "pass" || cell.mark !== "" || data.cases[row].violates !== undefined);
  }

  function describeCell(cell, violates) {
    if (cell === null) return "not run";
    const text = cell.raw + (violates && cell.raw === "pass" ? " (refused, as it must)" : "");
    if (cell.mark === "registered") return text + ", explained by the register";
    if (cell.mark === "xpass") return text + ", though the register expected a failure (xpass)";
    return unexplained(cell) ? text + ", not explained" : text;
  }

  function matches(cell, wanted) {
    if (cell === null) return false;
    if (wanted === "unexplained") return unexplained(cell);
    if (wanted === "registered") return cell.mark === "registered";
    if (wanted === "not pass") return cell.raw !== "pass" || cell.mark === "xpass";
    if (wanted.startsWith("group:")) return groupOf[cell.raw] === wanted.slice(6);
    return cell.raw === wanted;
  }

  // The details live in files next to the page, data.chunk_rows matrix rows each, loaded when a cell is
  // opened: as scripts, since Chromium refuses fetch() of a file:// page's neighbours. Each file calls
  // reportDetailsLoaded with its number and data.
  const chunks = {};  // number -> promise of {details, strings}
  const arrived = {};  // number -> {details, strings}, as the file handed it over
  window.reportDetailsLoaded = function (number, chunk) { arrived[number] = chunk; };

  function detailsFile(number) {
    return "details/chunk-" + String(number).padStart(4, "0") + ".js";
  }

  function loadChunk(number) {
    if (!chunks[number]) {
      chunks[number] = new Promise(function (resolve, reject) {
        const script = element("script", { src: detailsFile(number) });
        script.addEventListener("load", function () {
          if (arrived[number]) resolve(arrived[number]);
          else reject(new Error(detailsFile(number) + " holds no details"));
        });
        script.addEventListener("error", function () {
          delete chunks[number];  // a later click tries again
          reject(new Error("Could not load " + detailsFile(number) + ". The report is a folder: index.html " +
            "reads the details from the details/ folder beside it, so keep the two together."));
        });
        document.head.appendChild(script);
      });
    }
    return chunks[number];
  }

  // Filters: one select per parameter, with the values the cases have (in data.values, in order).
  const selectsHolder = document.getElementById("filter-selects");
  for (const name of data.filters) {
    const label = element("label", {}, name.replace("_", " ") + " ");
    const select = element("select", { id: "filter-" + name, "data-filter": name });
    select.appendChild(element("option", { value: "" }, "any"));
    for (const v of data.values[name]) select.appendChild(element("option", { value: v }, v));
    select.addEventListener("change", apply);
    label.appendChild(select);
    selectsHolder.appendChild(label);
    selects[name] = select;
  }
  const outcomeSelect = document.getElementById("filter-outcome");
  const search = document.getElementById("search");
  outcomeSelect.addEventListener("change", apply);
  allAdapters.addEventListener("change", render);
  search.addEventListener("input", apply);
  document.getElementById("clear-filters").addEventListener("click", function () {
    for (const select of Object.values(selects)) select.value = "";
    outcomeSelect.value = "";
    search.value = "";
    allAdapters.checked = false;
    apply();
  });
  document.getElementById("prev").addEventListener("click", function () { if (page > 0) { page--; render(); } });
  document.getElementById("next").addEventListener("click", function () {
    if ((page + 1) * PAGE < visible.length) { page++; render(); }
  });
  document.getElementById("close-detail").addEventListener("click", function () {
    opened++;  // a detail still loading stays closed
    detail.hidden = true;
    if (selectedCell) selectedCell.classList.remove("selected");
  });

  function keeps(row, text, wantedValues) {
    const c = data.cases[row];
    if (text && !c.id.toLowerCase().includes(text)) return false;
    for (let f = 0; f < wantedValues.length; f++) {
      if (wantedValues[f] >= 0 && !c.values[f].includes(wantedValues[f])) return false;
    }
    const wanted = outcomeSelect.value;
    if (wanted) {
      let found = false;
      for (let column = 0; column < adapters.length && !found; column++) found = matches(cellAt(row, column), wanted);
      if (!found) return false;
    }
    return true;
  }

  function apply() {
    const text = search.value.trim().toLowerCase();
    // per filter, the index of the selected value in data.values; -1 for "any"
    const wantedValues = data.filters.map(function (name) { return data.values[name].indexOf(selects[name].value); });
    visible = [];
    for (let row = 0; row < data.cases.length; row++) if (keeps(row, text, wantedValues)) visible.push(row);
    page = 0;
    render();
  }

  function render() {
    const rows = visible.slice(page * PAGE, (page + 1) * PAGE);
    // The columns to draw: the adapters given any of these cases (a mode family is given to its framework's
    // adapters only), or every adapter when asked.
    const columns = [];
    for (let column = 0; column < adapters.length; column++) {
      if (allAdapters.checked || rows.some(function (row) { return data.cells[row][column] !== "-"; })) columns.push(column);
    }
    const headRow = [element("th", { class: "case" }, "case")];
    for (const column of columns) {
      const th = element("th", { class: "adapter", title: data.adapter_titles[column], "data-column": column });
      th.appendChild(element("div", {}, data.short_labels[column]));
      headRow.push(th);
    }
    head.replaceChildren(...headRow);
    const fragment = document.createDocumentFragment();
    let family = null;
    for (const row of rows) {
      const c = data.cases[row];
      if (c.family !== family) {
        family = c.family;
        const header = element("tr", { class: "family" });
        header.appendChild(element("th", { colspan: columns.length + 1 }, data.families[family]));
        fragment.appendChild(header);
      }
      const tr = element("tr", { "data-row": row });
      tr.appendChild(element("td", { class: "case" }, c.id));
      for (const column of columns) {
        const cell = cellAt(row, column);
        const detailed = hasDetail(row, column);  // every cell but a plain pass
        const td = element("td", {
          class: "cell o-" + (cell ? cell.raw : "none") + (cell && cell.mark ? " m-" + cell.mark : "") + (detailed ? " clickable" : ""),
          title: adapters[column] + ": " + describeCell(cell, c.violates),
          "data-outcome": cell ? cell.raw : "none",
          "data-mark": cell ? cell.mark : "",
          "data-column": column,
        });
        if (detailed) {
          td.tabIndex = 0;
          td.setAttribute("role", "button");
          td.setAttribute("aria-label", adapters[column] + " on " + c.id + ": " + describeCell(cell, c.violates));
          td.addEventListener("click", function () { show(row, column, td); });
          td.addEventListener("keydown", function (event) {
            if (event.key === "Enter" || event.key === " ") { event.preventDefault(); show(row, column, td); }
          });
        }
        tr.appendChild(td);
      }
      fragment.appendChild(tr);
    }
    body.replaceChildren(fragment);
    const first = visible.length ? page * PAGE + 1 : 0;
    const hidden = adapters.length - columns.length;
    info.textContent = "cases " + first + "–" + (page * PAGE + rows.length) + " of " + visible.length +
      " shown (" + data.cases.length + " in all)" +
      (hidden ? "; hidden: " + hidden + (hidden === 1 ? " adapter" : " adapters") + " not given these cases" : "");
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
    const asked = ++opened;
    const askedAt = performance.now();
    if (selectedCell) selectedCell.classList.remove("selected");
    selectedCell = td;
    td.classList.add("selected");
    const number = Math.floor(row / data.chunk_rows);
    detail.dataset.cell = row + ":" + column;
    detail.dataset.state = "loading";
    detailBody.replaceChildren(element("p", { class: "small" }, "loading the detail…"));
    detail.hidden = false;
    loadChunk(number).then(function (chunk) {
      if (asked !== opened) return;
      const d = chunk.details[row + ":" + column];
      if (!d) throw new Error(detailsFile(number) + " has no detail for this cell");
      detailBody.replaceChildren(...describe(row, column, d, chunk.strings, (chunk.cases || {})[row]));
      detail.dataset.state = "ready";
      window.reportTimings.detailMs = performance.now() - askedAt;  // its file loaded (the first time) and drawn
    }).catch(function (error) {
      if (asked !== opened) return;
      detailBody.replaceChildren(element("p", { class: "warn" }, error.message));
      detail.dataset.state = "failed";
    });
  }

  function listed(names) {  // "dx", "dx and dw", "dx, dw and db"
    return names.length < 2 ? names.join("") : names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
  }

  // A backward case's gradients (d.gradients: dx, dw, db, each with its outcome and own metrics): which failed,
  // and a table of each one's figures.
  function describeGradients(m, gradients) {
    const parts = [];
    const failing = gradients.filter(function (g) { return g.outcome !== "pass"; }).map(function (g) { return g.gradient; });
    const line = element("p", { class: "shape gradients-failing", "data-failing": failing.join(" ") });
    if (!failing.length) line.textContent = "Backward pass: every gradient (" + listed(gradients.map(function (g) { return g.gradient; })) + ") passed.";
    else if (failing.length === 1) line.textContent = "Backward pass: gradient " + failing[0] + " failed.";
    else line.textContent = "Backward pass: gradients " + listed(failing) + " failed; the worst is " + m.gradient + ".";
    parts.push(line);
    const table = element("table", { class: "gradients" });
    const head = element("tr", {});
    for (const name of ["gradient", "outcome", "shape", "max abs error", "error / tolerance", "bad elements"]) {
      head.appendChild(element("th", {}, name));
    }
    table.appendChild(element("thead", {})).appendChild(head);
    const tbody = table.appendChild(element("tbody", {}));
    for (const g of gradients) {
      const tr = element("tr", { "data-gradient": g.gradient, class: g.outcome === "pass" ? "passing" : "failing" });
      tr.appendChild(element("td", { class: "mono" }, g.gradient));
      const outcome = element("td", {});
      outcome.appendChild(element("span", { class: "dot o-" + g.outcome }));
      outcome.appendChild(document.createTextNode(g.outcome + (g.outcome === "dtype_mismatch" ? " (" + g.output_dtype + ")" : "")));
      tr.appendChild(outcome);
      tr.appendChild(element("td", { class: "gradient-shape" }, g.expected_shape === undefined ? "–" : g.actual_shape ?
        "expected " + shape(g.expected_shape) + ", got " + shape(g.actual_shape) : shape(g.expected_shape)));
      const bad = g.bad_count !== undefined ? g.bad_count : g.nonfinite_count !== undefined ? g.nonfinite_count + " non-finite" : undefined;
      for (const value of [g.max_abs_error, g.max_error_over_tolerance, bad]) {
        tr.appendChild(element("td", { class: "figure" }, value === undefined || value === null ? "–" : number(value)));
      }
      tbody.appendChild(tr);
    }
    parts.push(table);
    return parts;
  }

  // The case's parameters as a plain table (fields: the record's case fields).
  function parameterTable(fields) {
    const pairs = (a) => a.map(function (p) { return p[0] === p[1] ? String(p[0]) : p[0] + " begin, " + p[1] + " end"; });
    const rows = [
      ["model layer", fields.model], ["direction", fields.direction], ["mode", fields.mode], ["dtype", fields.dtype],
      ["batch", fields.batch], ["channels", fields.in_channels + " in, " + fields.out_channels + " out"],
      ["groups", fields.groups], ["input size", fields.input_size && fields.input_size.join(" × ")],
      ["kernel", fields.kernel && fields.kernel.join(" × ")], ["stride", fields.stride && fields.stride.join(", ")],
      ["padding (per axis)", fields.padding && pairs(fields.padding).join("; ")],
      ["output_padding", fields.output_padding && fields.output_padding.join(", ")],
      ["dilation", fields.dilation && fields.dilation.join(", ")], ["bias", fields.bias ? "yes" : "no"],
      ["must reject", fields.violates || undefined],
    ].filter(function (pair) { return pair[1] !== undefined && pair[1] !== null && pair[1] !== ""; });
    const table = element("table", { class: "parameters" });
    for (const [name, value] of rows) {
      const tr = table.appendChild(element("tr", {}));
      tr.appendChild(element("th", {}, name));
      tr.appendChild(element("td", {}, value));
    }
    return table;
  }

  // What every other adapter did on this case, from the matrix's own cells.
  function othersOnCase(row, column) {
    const list = element("ul", { class: "others" });
    for (let other = 0; other < adapters.length; other++) {
      const cell = cellAt(row, other);
      if (other === column || cell === null) continue;
      const li = list.appendChild(element("li", { "data-adapter": adapters[other] }));
      li.appendChild(element("span", { class: "dot o-" + cell.raw + (cell.mark ? " m-" + cell.mark : "") }));
      li.appendChild(document.createTextNode(adapters[other] + ": " + describeCell(cell, data.cases[row].violates)));
    }
    return list.children.length ? list : element("p", { class: "small" }, "No other adapter ran this case.");
  }

  function positions(n) { return n === 1 ? "1 position" : n + " positions"; }

  // The returned window in words, axis by axis, against the documented one (the case's pads and output_padding).
  function windowSentence(fields, w) {
    const axes = w.begin.length;
    const said = [];
    for (let a = 0; a < axes; a++) {
      const begin = fields.padding[a][0], end = fields.padding[a][1], op = fields.output_padding[a];
      const where = axes > 1 ? "axis " + (a + 1) + ": " : "";
      const got = [w.begin[a], w.end[a], w.appended[a]];
      if (got[0] === begin && got[1] === end && got[2] === op) continue;
      if (got[0] === begin && got[2] === 0 && op > 0 && got[1] === end) {
        said.push(where + "the output without the output_padding " + positions(op));
      } else if (got[0] === 0 && got[1] === 0 && got[2] === 0) {
        said.push(where + "the full output, not cropped (the case crops " + begin + " at the start and " + end + " at the end)");
      } else if (got[0] === end && got[1] === begin && begin !== end) {
        said.push(where + "the crop at the wrong ends: " + got[0] + " at the start and " + got[1] + " at the end, where the case crops " + begin + " and " + end);
      } else {
        said.push(where + "cropped " + got[0] + " at the start and " + got[1] + " at the end" + (got[2] ? " with " + got[2] + " zeros appended" : "") +
          ", where the case crops " + begin + " and " + end + (op ? " and appends " + positions(op) : ""));
      }
    }
    return said.length ? "Returned " + said.join("; ") + "." : "Returned the documented window.";
  }

  function describe(row, column, d, strings, fields) {
    const c = data.cases[row];
    const m = d.metrics || {};
    const gradients = d.gradients;  // a backward case's, once compared
    const parts = [];
    parts.push(element("h3", {}, adapters[column] + " on " + c.id));
    const outcomeLine = element("p", { class: "outcome" });
    outcomeLine.appendChild(element("span", { class: "dot o-" + d.raw }));
    outcomeLine.appendChild(document.createTextNode(d.raw + (c.violates && d.raw === "pass" ? " (refused, as it must)" : "") +
      (d.divergence ? (d.explained ? ": a known divergence, explained by the register" : ": the register expected another outcome (" + d.outcome + ")") :
        d.explained ? "" : ": NOT explained by the divergence register")));
    parts.push(outcomeLine);
    if (m.observed_window && fields && fields.padding) {
      parts.push(element("p", { class: "shape window-sentence" }, windowSentence(fields, m.observed_window)));
    }
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
      parts.push(element("p", {}, data.refused_at[m.stage] || "Refused (at an unknown stage)."));
    } else if (d.raw === "dtype_mismatch") {
      parts.push(element("p", { class: "shape" }, (gradients ? m.gradient + " dtype " : "output dtype ") + m.output_dtype +
        ", but the case's dtype is " + m.expected_dtype));
      if (m.values) parts.push(element("p", {}, m.values === "pass" ? "The values are within tolerance of the reference." :
        "The values compared with the reference: " + m.values));
    } else if (d.raw === "suite_error") {
      parts.push(element("p", { class: "shape" }, "The suite's own handling of the output failed: not the framework's fault."));
    }
    if (gradients) {
      parts.push(...describeGradients(m, gradients));
    } else if (m.actual_shape && m.expected_shape) {
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
      if (gradients) parts.push(element("p", { class: "small" }, "The worst gradient's figures (" + m.gradient + "):"));
      const dl = element("dl", {});
      for (const [name, value] of figures) {
        dl.appendChild(element("dt", {}, name));
        dl.appendChild(element("dd", {}, number(value)));
      }
      parts.push(dl);
    }
    if (gradients) {
      for (const g of gradients) {
        if (!g.error_map || !g.error_map.length) continue;
        parts.push(element("p", { class: "small" }, "Where " + g.gradient + "'s bad values lie (" + (g.gradient === "db" ?
          "the bias gradient has no spatial axes: one bin for all its elements" :
          "binned over its spatial axes; rows: first axis, columns: last") + "):"));
        const canvas = drawErrorMap(g.error_map);
        canvas.dataset.gradient = g.gradient;
        parts.push(canvas);
      }
    } else if (m.error_map) {
      parts.push(element("p", { class: "small" }, "Where the bad values lie (binned over the output's spatial axes; rows: first axis, columns: last):"));
      parts.push(drawErrorMap(m.error_map));
    }
    if (d.raw === "rejected" && m.stage) parts.push(element("p", { class: "stage" }, data.refused_at[m.stage] || "Refused at " + m.stage + "."));
    if (d.message !== null) parts.push(element("pre", { class: "message" }, strings[d.message]));
    if (m.converted) {
      parts.push(element("p", { class: "small" }, "What the converter wrote for the operation:"));
      parts.push(element("pre", { class: "converted" }, JSON.stringify(m.converted, null, 1)));
    }
    if (fields) {
      parts.push(element("p", { class: "small" }, "The case:"));
      parts.push(parameterTable(fields));
    }
    parts.push(element("p", { class: "small" }, "The other adapters on this case:"));
    parts.push(othersOnCase(row, column));
    if (d.divergence) {
      const box = element("div", { class: "divergence" });
      const line = element("p", {}, "Divergence ");
      line.appendChild(element("a", { href: "#register-" + d.divergence.id }, d.divergence.id));
      line.appendChild(document.createTextNode(": " + strings[d.divergence.reason]));
      box.appendChild(line);
      for (const link of d.divergence.links) {
        // Only an https:// address is a link: anything else (a javascript: one) is shown as text, as the register does.
        if (/^https:\/\//.test(link)) box.appendChild(element("a", { href: link, target: "_blank", rel: "noopener" }, link));
        else box.appendChild(element("span", {}, link));
        box.appendChild(element("br"));
      }
      parts.push(box);
    }
    if (d.warnings && d.warnings.length) parts.push(element("p", { class: "small" }, "warnings: " + d.warnings.join("; ")));
    if (d.repro !== null) {
      const code = strings[d.repro];
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
    return parts;
  }

  apply();
  // performance.now() counts from the start of navigation: load, parse and first draw included.
  window.reportTimings = { scriptMs: performance.now() - started, readyMs: performance.now() };
  document.body.setAttribute("data-ready", "1");
})();
