// Draws the dashboard from the JSON embedded in the page: filters, tiles,
// SVG charts with table fallbacks, and the tables. No network access.
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  var ALL = DATA.all_services_key;
  var SVG_NS = "http://www.w3.org/2000/svg";
  var DAY_MS = 86400000;
  var FAILED_ROWS_SHOWN = 25;
  var CONTRACT_TARGET_UNITS = {
    deployments_per_day: 1,
    median_pr_lead_time_hours: 1 / 3600,
    change_failure_rate: 100,
    mttr_minutes: 1 / 60
  };

  // ---- small helpers -------------------------------------------------

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    setAttributes(node, attributes);
    appendChildren(node, children);
    return node;
  }

  function svgEl(tag, attributes, children) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttributes(node, attributes);
    appendChildren(node, children);
    return node;
  }

  function setAttributes(node, attributes) {
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = String(value);
      else node.setAttribute(name, String(value));
    });
  }

  function appendChildren(node, children) {
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
  }

  function replaceContent(id, children) {
    var node = document.getElementById(id);
    while (node.firstChild) node.removeChild(node.firstChild);
    appendChildren(node, children);
  }

  function isNumber(value) {
    return typeof value === "number" && isFinite(value);
  }

  function formatNumber(value, digits) {
    if (!isNumber(value)) return "no data";
    var places = digits;
    if (places === undefined) {
      // Three significant figures up to 100, whole numbers above.
      places = 2;
      if (Math.abs(value) >= 10) places = 1;
      if (Math.abs(value) >= 100) places = 0;
    }
    return value.toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
  }

  function formatDuration(seconds) {
    if (!isNumber(seconds)) return "no data";
    if (seconds < 3600) return formatNumber(seconds / 60, 1) + " min";
    if (seconds < 2 * 86400) return formatNumber(seconds / 3600, 1) + " h";
    return formatNumber(seconds / 86400, 1) + " days";
  }

  function formatTime(iso) {
    if (!iso) return "";
    return iso.replace("T", " ").replace(/(\.\d+)?\+00:00$/, " UTC");
  }

  function dateToMs(text) {
    return Date.parse(text + "T00:00:00Z");
  }

  function msToDate(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function serviceLabel(service) {
    return service === ALL ? "All services" : service;
  }

  function table(caption, headers, rows, options) {
    var head = el("tr", {}, headers.map(function (header) {
      return el("th", { scope: "col", "class": header.numeric ? "number" : null, text: header.label });
    }));
    var body = rows.map(function (row) {
      return el("tr", { "class": row.className || null }, row.cells.map(function (cell, index) {
        var attributes = { "class": headers[index].numeric ? "number" : null };
        if (cell && cell.nodeType) return el(index === 0 && options && options.rowHeaders ? "th" : "td", attributes, [cell]);
        attributes.text = cell === null || cell === undefined ? "" : cell;
        if (index === 0 && options && options.rowHeaders) attributes.scope = "row";
        return el(index === 0 && options && options.rowHeaders ? "th" : "td", attributes);
      }));
    });
    return el("table", { id: options && options.id }, [
      el("caption", { text: caption }),
      el("thead", {}, [head]),
      el("tbody", {}, body)
    ]);
  }

  // ---- data indexes ------------------------------------------------------

  function rowsOf(columns) {
    var names = Object.keys(columns);
    var count = names.length ? columns[names[0]].length : 0;
    var rows = [];
    for (var index = 0; index < count; index++) {
      var row = {};
      for (var n = 0; n < names.length; n++) row[names[n]] = columns[names[n]][index];
      rows.push(row);
    }
    return rows;
  }

  var dailyRows = rowsOf(DATA.daily);
  var trailingRows = rowsOf(DATA.trailing);
  var dailyByService = {};
  dailyRows.forEach(function (row) {
    (dailyByService[row.service] = dailyByService[row.service] || {})[row.metric_date] = row;
  });
  var trailingByKey = {};
  trailingRows.forEach(function (row) {
    var key = row.service + "|" + row.window_days;
    (trailingByKey[key] = trailingByKey[key] || {})[row.as_of_date] = row;
  });
  var allDates = dailyRows.map(function (row) { return row.metric_date; })
    .filter(function (value, index, list) { return list.indexOf(value) === index; })
    .sort();
  var firstDate = allDates.length ? allDates[0] : DATA.as_of_date;
  var lastDate = DATA.as_of_date || (allDates.length ? allDates[allDates.length - 1] : null);

  function trailingRow(service, windowDays, date) {
    var byDate = trailingByKey[service + "|" + windowDays] || {};
    if (byDate[date]) return byDate[date];
    var earlier = Object.keys(byDate).filter(function (day) { return day <= date; }).sort();
    return earlier.length ? byDate[earlier[earlier.length - 1]] : null;
  }

  function contractTarget(metric) {
    if (!DATA.contract.present || !metric.contract_metric) return null;
    var outcomes = DATA.contract.outcomes.filter(function (outcome) {
      return outcome.metric === metric.contract_metric && !outcome.service_filter;
    });
    if (!outcomes.length || !isNumber(outcomes[0].target_base_value)) return null;
    return {
      value: outcomes[0].target_base_value * CONTRACT_TARGET_UNITS[metric.key],
      operator: outcomes[0].operator,
      source: "contract " + outcomes[0].contract_id
    };
  }

  function targetOf(metric) {
    var fromContract = contractTarget(metric);
    if (fromContract) return fromContract;
    if (!isNumber(metric.default_target)) return null;
    return { value: metric.default_target, operator: metric.operator, source: "default target, no contract loaded" };
  }

  function meetsTarget(value, target) {
    if (!isNumber(value) || !target) return null;
    return target.operator === ">=" ? value >= target.value : value <= target.value;
  }

  function targetVerdict(meets) {
    if (meets === null) return "no data";
    return meets ? "meets target" : "misses target";
  }

  function checkpointRole(checkpoint) {
    if (checkpoint.is_baseline) return " (baseline)";
    if (checkpoint.is_final) return " (final)";
    return "";
  }

  function levelOf(service, levelMetric) {
    if (!levelMetric) return null;
    for (var index = 0; index < DATA.levels.length; index++) {
      var row = DATA.levels[index];
      if (row.service === service && row.metric === levelMetric) return row;
    }
    return null;
  }

  function levelBadge(row) {
    var level = row && row.level ? row.level : null;
    return el("span", { "class": "level level-" + (level || "none"), "data-level": level || "none", text: level || "no data" });
  }

  // ---- state and filters -----------------------------------------------------

  var state = { service: ALL, from: firstDate, to: lastDate, windowDays: 30 };

  function clampRange(days) {
    if (!lastDate) return;
    state.to = lastDate;
    if (!days) {
      state.from = firstDate;
      return;
    }
    var from = msToDate(dateToMs(lastDate) - (days - 1) * DAY_MS);
    state.from = from < firstDate ? firstDate : from;
  }

  function datesInRange() {
    return allDates.filter(function (day) { return day >= state.from && day <= state.to; });
  }

  function setUpFilters() {
    var select = document.getElementById("filter-service");
    appendChildren(select, [el("option", { value: ALL, text: "All services" })].concat(
      DATA.services.map(function (service) {
        var label = service.team ? service.service + " (team " + service.team + ")" : service.service;
        return el("option", { value: service.service, text: label });
      })
    ));
    var from = document.getElementById("filter-from");
    var to = document.getElementById("filter-to");
    [from, to].forEach(function (input) {
      input.min = firstDate || "";
      input.max = lastDate || "";
    });
    clampRange(90);
    syncInputs();
    select.addEventListener("change", function () { state.service = select.value; render(); });
    document.getElementById("filter-window").addEventListener("change", function (event) {
      state.windowDays = Number(event.target.value);
      render();
    });
    from.addEventListener("change", function () { applyDates(from.value, state.to); });
    to.addEventListener("change", function () { applyDates(state.from, to.value); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-range-days]"), function (button) {
      button.addEventListener("click", function () {
        clampRange(Number(button.getAttribute("data-range-days")));
        syncInputs();
        render();
      });
    });
  }

  function applyDates(from, to) {
    if (from && to && from <= to) {
      state.from = from < firstDate ? firstDate : from;
      state.to = to > lastDate ? lastDate : to;
    }
    syncInputs();
    render();
  }

  function syncInputs() {
    document.getElementById("filter-from").value = state.from || "";
    document.getElementById("filter-to").value = state.to || "";
  }

  // ---- sections -------------------------------------------------------------------

  function renderHeader() {
    var settings = DATA.settings;
    var text = "Measured as of " + formatTime(settings.as_of) + ", daily buckets in " + settings.timezone +
      (settings.built_at ? ", built " + formatTime(settings.built_at) : "") + ".";
    document.getElementById("as-of").textContent = text;
    var summary = "No daily data yet: the marts hold no deployment or incident.";
    if (state.from && state.to) {
      summary = "Showing " + serviceLabel(state.service) + " from " + state.from + " to " + state.to +
        ", trailing window " + state.windowDays + " days.";
    }
    document.getElementById("filter-summary").textContent = summary;
  }

  function renderTiles() {
    var tiles = DATA.metrics.map(function (metric) {
      var row = trailingRow(state.service, state.windowDays, state.to);
      var raw = row ? row[metric.trailing_column] : null;
      var value = isNumber(raw) ? raw * metric.scale : null;
      var target = targetOf(metric);
      var meets = meetsTarget(value, target);
      var level = levelOf(state.service, metric.level_metric);
      return el("article", { "class": "tile", "data-metric": metric.key }, [
        el("h3", { text: metric.title }),
        el("p", {}, [
          el("span", { "class": "value", "data-value": isNumber(value) ? value : "", text: formatNumber(value) }),
          el("span", { "class": "unit", text: isNumber(value) ? metric.unit : "" })
        ]),
        el("p", { text: "Trailing " + state.windowDays + " days to " + (row ? row.as_of_date : state.to) }),
        el("p", {
          text: target
            ? "Target " + target.operator + " " + formatNumber(target.value) + " " + metric.unit + ": " +
              targetVerdict(meets)
            : "No target set"
        }),
        metric.level_metric
          ? el("p", {}, ["DORA level (30 days to " + (DATA.as_of_date || "as of") + "): ", levelBadge(level)])
          : null
      ]);
    });
    replaceContent("tiles", tiles);
  }

  function statusBadge(contractId, outcomeId, status) {
    return el("span", {
      "class": "status status-" + (status || "none"),
      "data-contract": contractId,
      "data-outcome": outcomeId,
      "data-status": status || "none",
      text: status || "no data"
    });
  }

  function renderContract() {
    var contract = DATA.contract;
    if (!contract.present) {
      replaceContent("contract-body", [
        el("p", { "class": "no-contract", id: "contract-state", "data-state": "absent" }, [
          el("strong", { text: "No contract. " }),
          "The warehouse has no outcome contract: " + contract.reason +
            ". Charts show the default targets (at least 8 deploys/day, median lead time at most 2.5 h, " +
            "change failure rate at most 2 %, restore time at most 5 min)."
        ])
      ]);
      return;
    }
    var byContract = {};
    contract.outcomes.forEach(function (outcome) {
      (byContract[outcome.contract_id] = byContract[outcome.contract_id] || []).push(outcome);
    });
    var children = [el("p", { id: "contract-state", "data-state": "present", "class": "note",
      text: "Contract statuses are measured on each contract's own days and do not follow the filters above." })];
    Object.keys(byContract).sort().forEach(function (contractId) {
      var outcomes = byContract[contractId];
      var first = outcomes[0];
      children.push(el("h3", { text: "Contract " + contractId + (first.mission_id ? " (mission " + first.mission_id + ")" : "") }));
      children.push(el("p", { "class": "note", text: "Starts " + first.start_date + ", baseline through " +
        first.baseline_date + ", final evaluation through " + first.final_date + ", " + first.timezone + " days." }));
      children.push(table("Status of each outcome", [
        { label: "Outcome" }, { label: "Target" }, { label: "Status" }, { label: "Status date" },
        { label: "Headline value", numeric: true }, { label: "Criterion value", numeric: true },
        { label: "Margin", numeric: true }, { label: "Baseline", numeric: true }
      ], outcomes.map(function (outcome) {
        var baseline = contract.checkpoints.filter(function (checkpoint) {
          return checkpoint.contract_id === contractId && checkpoint.outcome_id === outcome.outcome_id && checkpoint.is_baseline;
        })[0];
        var scope = outcome.service_filter ? " (service " + outcome.service_filter + ")" : "";
        return { cells: [
          outcome.outcome_id + scope,
          outcome.operator + " " + formatNumber(outcome.target_value) + " " + outcome.unit,
          statusBadge(contractId, outcome.outcome_id, outcome.status),
          outcome.status_date || "",
          formatNumber(outcome.headline_value),
          formatNumber(outcome.criterion_value),
          isNumber(outcome.margin) ? formatNumber(outcome.margin * 100, 1) + " %" : "no data",
          baseline && baseline.is_reached ? formatNumber(baseline.headline_value) : "not reached"
        ] };
      }), { rowHeaders: true, id: "contract-table-" + contractId }));
      children.push(statusHistory(contractId, outcomes));
      var checkpoints = contract.checkpoints.filter(function (checkpoint) { return checkpoint.contract_id === contractId; });
      children.push(table("Checkpoints", [
        { label: "Outcome" }, { label: "Checkpoint" }, { label: "Measured through" }, { label: "Reached" },
        { label: "Headline value", numeric: true }, { label: "Status" }, { label: "Change from baseline", numeric: true }
      ], checkpoints.map(function (checkpoint) {
        return { cells: [
          checkpoint.outcome_id,
          checkpoint.checkpoint_name + checkpointRole(checkpoint),
          checkpoint.measured_through_date,
          checkpoint.is_reached ? "yes" : "no",
          checkpoint.is_reached ? formatNumber(checkpoint.headline_value) : "",
          checkpoint.is_reached ? checkpoint.status || "no data" : "pending",
          checkpoint.is_reached ? formatNumber(checkpoint.headline_change_from_baseline) : ""
        ] };
      }), { id: "checkpoint-table-" + contractId }));
    });
    replaceContent("contract-body", children);
  }

  // One strip per outcome, a segment per run of days with the same status.
  function statusHistory(contractId, outcomes) {
    var runs = (DATA.contract.history || []).filter(function (run) { return run.contract_id === contractId; });
    var width = 640;
    var rowHeight = 22;
    var labelWidth = 170;
    var svg = svgEl("svg", {
      viewBox: "0 0 " + width + " " + (outcomes.length * rowHeight + 4), "class": "history-svg", role: "img",
      "aria-label": "Status of each outcome by day; the table below lists the same runs."
    });
    outcomes.forEach(function (outcome, index) {
      var own = runs.filter(function (run) { return run.outcome_id === outcome.outcome_id; });
      var total = own.reduce(function (sum, run) { return sum + run.day_count; }, 0);
      var top = 2 + index * rowHeight;
      svg.appendChild(svgEl("text", { x: labelWidth - 6, y: top + 14, "text-anchor": "end", "class": "bar-label", text: outcome.outcome_id }));
      var left = labelWidth;
      own.forEach(function (run) {
        var runWidth = total ? (run.day_count / total) * (width - labelWidth - 4) : 0;
        svg.appendChild(svgEl("rect", {
          "class": "status-fill status-" + run.status, x: left.toFixed(1), y: top, width: runWidth.toFixed(1),
          height: rowHeight - 6, "data-outcome-run": outcome.outcome_id, "data-status": run.status
        }, [svgEl("title", { text: run.status + " from " + run.first_date + " to " + run.last_date })]));
        if (runWidth > 70) {
          svg.appendChild(svgEl("text", { x: (left + 4).toFixed(1), y: top + 12, "class": "run-label", "aria-hidden": "true", text: run.status }));
        }
        left += runWidth;
      });
    });
    return el("figure", { "class": "history" }, [
      el("figcaption", { text: "Status history, one segment per run of days with the same status" }),
      svg,
      el("details", {}, [
        el("summary", { text: "Status history table" }),
        table("Status runs", [
          { label: "Outcome" }, { label: "Status" }, { label: "From" }, { label: "To" }, { label: "Days", numeric: true }
        ], runs.map(function (run) {
          return { cells: [run.outcome_id, run.status, run.first_date, run.last_date, String(run.day_count)] };
        }), { rowHeaders: true, id: "status-history-" + contractId })
      ])
    ]);
  }

  // ---- charts ------------------------------------------------------------------

  var CHART = { width: 640, height: 240, left: 52, right: 16, top: 14, bottom: 30 };

  function niceMax(value) {
    if (!(value > 0)) return 1;
    var power = Math.pow(10, Math.floor(Math.log10(value)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var index = 0; index < steps.length; index++) {
      if (steps[index] * power >= value) return steps[index] * power;
    }
    return 10 * power;
  }

  function chartSeries(metric, dates) {
    var daily = dailyByService[state.service] || {};
    return dates.map(function (day) {
      var dailyRow = daily[day];
      var trailing = (trailingByKey[state.service + "|" + state.windowDays] || {})[day];
      var dailyValue = dailyRow ? dailyRow[metric.daily_column] : null;
      var trailingValue = trailing ? trailing[metric.trailing_column] : null;
      return {
        date: day,
        daily: isNumber(dailyValue) ? dailyValue * metric.scale : null,
        trailing: isNumber(trailingValue) ? trailingValue * metric.scale : null
      };
    });
  }

  function pathOf(points) {
    var parts = [];
    var pen = "M";
    points.forEach(function (point) {
      if (point === null) {
        pen = "M";
        return;
      }
      parts.push(pen + point[0].toFixed(1) + " " + point[1].toFixed(1));
      pen = "L";
    });
    return parts.join(" ");
  }

  function drawChart(metric, series, target, index) {
    var plotWidth = CHART.width - CHART.left - CHART.right;
    var plotHeight = CHART.height - CHART.top - CHART.bottom;
    var values = [];
    series.forEach(function (point) {
      if (isNumber(point.daily)) values.push(point.daily);
      if (isNumber(point.trailing)) values.push(point.trailing);
    });
    if (target) values.push(target.value);
    var yMax = niceMax(Math.max.apply(null, values.concat([0])) * 1.05);
    var count = series.length;
    function x(position) { return CHART.left + (count <= 1 ? plotWidth / 2 : (position / (count - 1)) * plotWidth); }
    function y(value) { return CHART.top + plotHeight - (value / yMax) * plotHeight; }

    var titleId = "chart-title-" + index;
    var descId = "chart-desc-" + index;
    var withData = series.filter(function (point) { return isNumber(point.daily); });
    var lastTrailing = series.filter(function (point) { return isNumber(point.trailing); }).pop();
    var description = metric.title + " for " + serviceLabel(state.service) + " from " + state.from + " to " + state.to + ": " +
      withData.length + " of " + count + " days with a daily value" +
      (lastTrailing ? ", trailing " + state.windowDays + "-day value " + formatNumber(lastTrailing.trailing) + " " + metric.unit + " on " + lastTrailing.date : "") +
      (target ? ", target " + target.operator + " " + formatNumber(target.value) + " " + metric.unit : ", no target") + ".";

    var svg = svgEl("svg", {
      viewBox: "0 0 " + CHART.width + " " + CHART.height,
      "class": "chart-svg",
      role: "img",
      "aria-labelledby": titleId + " " + descId,
      "data-metric": metric.key,
      "data-point-count": withData.length
    }, [svgEl("title", { id: titleId, text: metric.title + " (" + metric.unit + ")" }), svgEl("desc", { id: descId, text: description })]);

    var axis = svgEl("g", { "class": "axis", "aria-hidden": "true" });
    [0, 0.25, 0.5, 0.75, 1].forEach(function (fraction) {
      var value = yMax * fraction;
      axis.appendChild(svgEl("line", { x1: CHART.left, x2: CHART.width - CHART.right, y1: y(value), y2: y(value) }));
      axis.appendChild(svgEl("text", { x: CHART.left - 6, y: y(value) + 4, "text-anchor": "end", text: formatNumber(value) }));
    });
    var labelPositions = count > 2 ? [0, Math.floor((count - 1) / 2), count - 1] : series.map(function (_, position) { return position; });
    labelPositions.forEach(function (position, order) {
      var anchor = "middle";
      if (order === 0) anchor = "start";
      if (order === labelPositions.length - 1) anchor = "end";
      axis.appendChild(svgEl("text", { x: x(position), y: CHART.height - 8, "text-anchor": anchor, text: series[position].date }));
    });
    svg.appendChild(axis);

    var dailyPoints = series.map(function (point, position) {
      return isNumber(point.daily) ? [x(position), y(point.daily)] : null;
    });
    svg.appendChild(svgEl("path", { "class": "daily-line", d: pathOf(dailyPoints), "aria-hidden": "true" }));
    var trailingPoints = series.map(function (point, position) {
      return isNumber(point.trailing) ? [x(position), y(point.trailing)] : null;
    });
    svg.appendChild(svgEl("path", {
      "class": "trailing", d: pathOf(trailingPoints), "aria-hidden": "true",
      "data-point-count": trailingPoints.filter(Boolean).length
    }));
    if (target) {
      svg.appendChild(svgEl("line", {
        "class": "target", x1: CHART.left, x2: CHART.width - CHART.right,
        y1: y(target.value), y2: y(target.value), "data-target": target.value, "aria-hidden": "true"
      }));
      svg.appendChild(svgEl("text", {
        "class": "target-label", x: CHART.width - CHART.right, y: y(target.value) - 4, "text-anchor": "end",
        "aria-hidden": "true", text: "target " + target.operator + " " + formatNumber(target.value)
      }));
    }
    var points = svgEl("g", { "class": "points" });
    series.forEach(function (point, position) {
      if (!isNumber(point.daily)) return;
      points.appendChild(svgEl("circle", {
        "class": "point", cx: x(position).toFixed(1), cy: y(point.daily).toFixed(1), r: 2.6,
        "data-date": point.date, "data-value": point.daily
      }, [svgEl("title", { text: point.date + ": " + formatNumber(point.daily) + " " + metric.unit })]));
    });
    svg.appendChild(points);
    return svg;
  }

  function chartTable(metric, series) {
    return el("details", {}, [
      el("summary", { text: "Data table: " + metric.title }),
      table(metric.title + " (" + metric.unit + ") by day", [
        { label: "Date" }, { label: "Daily value", numeric: true }, { label: "Trailing " + state.windowDays + " days", numeric: true }
      ], series.map(function (point) {
        return { cells: [point.date, formatNumber(point.daily), formatNumber(point.trailing)] };
      }), { rowHeaders: true })
    ]);
  }

  function renderCharts() {
    var dates = datesInRange();
    var figures = DATA.metrics.map(function (metric, index) {
      var series = chartSeries(metric, dates);
      var target = targetOf(metric);
      return el("figure", { "class": "chart", "data-metric": metric.key }, [
        el("figcaption", { text: metric.title + " (" + metric.unit + ")" }),
        el("p", { "class": "chart-note", text: metric.description +
          (target ? " Target " + target.operator + " " + formatNumber(target.value) + " " + metric.unit + " (" + target.source + ")." : " No contract target.") }),
        el("ul", { "class": "legend", "aria-hidden": "true" }, [
          el("li", {}, [el("span", { "class": "swatch daily" }), "daily value"]),
          el("li", {}, [el("span", { "class": "swatch trailing" }), "trailing " + state.windowDays + " days"]),
          target ? el("li", {}, [el("span", { "class": "swatch target" }), "target"]) : null
        ]),
        drawChart(metric, series, target, index),
        chartTable(metric, series)
      ]);
    });
    replaceContent("charts", figures);
  }

  // ---- tables ----------------------------------------------------------------------

  function renderServiceTable() {
    var services = [ALL].concat(DATA.services.map(function (service) { return service.service; }));
    var headers = [{ label: "Service" }].concat(DATA.metrics.map(function (metric) {
      return { label: metric.title + " (" + metric.unit + ")", numeric: true };
    }));
    var rows = services.map(function (service) {
      var row = trailingRow(service, state.windowDays, state.to);
      return {
        className: service === state.service ? "selected" : null,
        cells: [serviceLabel(service)].concat(DATA.metrics.map(function (metric) {
          var raw = row ? row[metric.trailing_column] : null;
          return formatNumber(isNumber(raw) ? raw * metric.scale : null);
        }))
      };
    });
    var bars = el("div", { "class": "service-bars" }, DATA.metrics.map(function (metric) {
      return drawServiceBars(metric, services);
    }));
    replaceContent("service-table", [bars, table(
      "Trailing " + state.windowDays + " days to " + state.to + ", every service", headers, rows,
      { rowHeaders: true, id: "per-service-table" }
    )]);
  }

  // One horizontal bar per service: the trailing value at the end of the date range.
  function drawServiceBars(metric, services) {
    var rows = services.filter(function (service) { return service !== ALL; }).map(function (service) {
      var row = trailingRow(service, state.windowDays, state.to);
      var raw = row ? row[metric.trailing_column] : null;
      return { service: service, value: isNumber(raw) ? raw * metric.scale : null };
    });
    var target = targetOf(metric);
    var values = rows.filter(function (row) { return isNumber(row.value); }).map(function (row) { return row.value; });
    var xMax = niceMax(Math.max.apply(null, values.concat(target ? [target.value] : [], [0])) * 1.05);
    var labelWidth = 90;
    var barHeight = 18;
    var width = 320;
    var height = rows.length * (barHeight + 6) + 8;
    var plotWidth = width - labelWidth - 60;
    function x(value) { return labelWidth + (value / xMax) * plotWidth; }
    var svg = svgEl("svg", {
      viewBox: "0 0 " + width + " " + height, "class": "bars-svg", role: "img",
      "aria-label": metric.title + " by service, trailing " + state.windowDays + " days to " + state.to + ": " +
        rows.map(function (row) { return row.service + " " + formatNumber(row.value); }).join(", "),
      "data-metric": metric.key, "data-bar-count": values.length
    });
    rows.forEach(function (row, index) {
      var top = 4 + index * (barHeight + 6);
      svg.appendChild(svgEl("text", { x: labelWidth - 6, y: top + barHeight - 5, "text-anchor": "end", "class": "bar-label", text: row.service }));
      if (isNumber(row.value)) {
        svg.appendChild(svgEl("rect", {
          "class": "bar" + (row.service === state.service ? " bar-selected" : ""), x: labelWidth, y: top,
          width: Math.max(1, x(row.value) - labelWidth).toFixed(1), height: barHeight,
          "data-service": row.service, "data-value": row.value
        }));
      }
      svg.appendChild(svgEl("text", {
        x: (isNumber(row.value) ? x(row.value) : labelWidth) + 4, y: top + barHeight - 5, "class": "bar-label",
        text: formatNumber(row.value)
      }));
    });
    if (target) {
      svg.appendChild(svgEl("line", { "class": "target", x1: x(target.value), x2: x(target.value), y1: 0, y2: height, "aria-hidden": "true" }));
    }
    return el("figure", { "class": "bars" }, [
      el("figcaption", { text: metric.title + " (" + metric.unit + ")" }),
      svg
    ]);
  }

  function renderLevels() {
    var metrics = DATA.metrics.filter(function (metric) { return metric.level_metric; });
    var services = [ALL].concat(DATA.services.map(function (service) { return service.service; }));
    var rows = services.map(function (service) {
      return {
        className: service === state.service ? "selected" : null,
        cells: [serviceLabel(service)].concat(metrics.map(function (metric) {
          return levelBadge(levelOf(service, metric.level_metric));
        }))
      };
    });
    var year = DATA.levels.length ? DATA.levels[0].report_year : "";
    replaceContent("levels-table", [
      el("p", { "class": "note", text: "Levels classify the trailing 30 days to " + (DATA.as_of_date || "as of") +
        " against the performance clusters of the " + year + " State of DevOps report; they do not follow the date filter." }),
      table("DORA performance level by service", [{ label: "Service" }].concat(metrics.map(function (metric) {
        return { label: metric.title };
      })), rows, { rowHeaders: true, id: "levels-by-service" })
    ]);
  }

  function matchesService(service) {
    return state.service === ALL || service === state.service;
  }

  function renderIncidents() {
    var incidents = DATA.open_incidents.filter(function (incident) { return matchesService(incident.service); });
    var children = [];
    if (!incidents.length) {
      children.push(el("p", { id: "no-open-incidents", text: "No open incidents for " + serviceLabel(state.service) + "." }));
    } else {
      children.push(table(incidents.length + " open incident(s) for " + serviceLabel(state.service) + " at " + formatTime(DATA.settings.as_of), [
        { label: "Incident" }, { label: "Service" }, { label: "Alerted at" }, { label: "Open for", numeric: true }, { label: "Linked deployments" }
      ], incidents.map(function (incident) {
        return { cells: [incident.incident_key, incident.service || "", formatTime(incident.alert_at),
          formatDuration(incident.restore_seconds), incident.linked_deployment_keys || "none"] };
      }), { rowHeaders: true, id: "open-incident-table" }));
    }
    replaceContent("incident-table", children);
  }

  function renderFailures() {
    var failed = DATA.failed_deployments.filter(function (deployment) {
      return matchesService(deployment.service) && deployment.deployed_date >= state.from && deployment.deployed_date <= state.to;
    });
    var shown = failed.slice(0, FAILED_ROWS_SHOWN);
    var children = [];
    if (!shown.length) {
      children.push(el("p", { id: "no-failed-deployments", text: "No failed deployments for " + serviceLabel(state.service) + " in this date range." }));
    } else {
      children.push(table("The " + shown.length + " most recent of " + failed.length + " failed deployment(s), " + state.from + " to " + state.to, [
        { label: "Deployed at" }, { label: "Service" }, { label: "Deployment" }, { label: "Sha" }, { label: "Failure reasons" },
        { label: "Recovered after", numeric: true }, { label: "Restored by" }
      ], shown.map(function (deployment) {
        return { cells: [formatTime(deployment.deployed_at), deployment.service, deployment.deployment_id,
          (deployment.sha || "").slice(0, 10), deployment.failure_reasons || "",
          deployment.recovered_at ? formatDuration(deployment.recovery_seconds) : "not recovered",
          deployment.restoring_deployment_key || (deployment.incident_count ? "incident resolution" : "")] };
      }), { rowHeaders: true, id: "failed-deployment-table" }));
    }
    replaceContent("failure-table", children);
  }

  function renderQuality() {
    var quality = DATA.data_quality;
    var children = [];
    children.push(quality.issues.length
      ? table("Data-quality issues by type", [{ label: "Issue type" }, { label: "Severity" }, { label: "Count", numeric: true }],
        quality.issues.map(function (issue) { return { cells: [issue.issue_type, issue.severity, String(issue.issue_count)] }; }),
        { rowHeaders: true })
      : el("p", { text: "No data-quality issues." }));
    children.push(quality.quarantine.length
      ? table("Rows in quarantine", [{ label: "Source" }, { label: "Entity" }, { label: "Reason" }, { label: "Rows", numeric: true }],
        quality.quarantine.map(function (row) { return { cells: [row.source, row.entity, row.reason, String(row.row_count)] }; }),
        { rowHeaders: true })
      : el("p", { text: "No rows in quarantine." }));
    var stale = quality.stale_sources || [];
    children.push(stale.length
      ? table("Stale sources (newest load older than the freshness threshold)", [{ label: "Table" }, { label: "Source" }, { label: "Status" }, { label: "Newest load" }, { label: "Age (hours)", numeric: true }, { label: "Warn after (hours)", numeric: true }],
        stale.map(function (row) { return { cells: [row.table_name, row.source_instance, row.status, String(row.loaded_at), Number(row.age_hours).toFixed(1), row.warn_after_hours === null ? "" : Number(row.warn_after_hours).toFixed(1)] }; }),
        { rowHeaders: true })
      : el("p", { text: "No stale source." }));
    replaceContent("quality-body", children);
  }

  function render() {
    renderHeader();
    renderTiles();
    renderCharts();
    renderServiceTable();
    renderLevels();
    renderIncidents();
    renderFailures();
    renderQuality();
    document.body.setAttribute("data-rendered", "true");
  }

  setUpFilters();
  renderContract();
  render();
})();
