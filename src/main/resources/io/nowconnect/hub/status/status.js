// NowConnect hub status page: refreshes the server-rendered page from /status.json every 5 s.
// Peer-supplied strings are only ever set as text (textContent, attribute values), never parsed as HTML.
// This file is filtered by Maven resources: it must not contain a dollar sign followed by a brace.
(function () {
  'use strict';
  var PERIOD_MS = 5000;
  var DAY = 86400;
  var PLOT_W = 180, PLOT_H = 36;
  var SVG = 'http://www.w3.org/2000/svg';
  var points = parseInt(document.body.getAttribute('data-points'), 10) || 90;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function setText(id, text) {
    var e = document.getElementById(id);
    if (e) { e.textContent = String(text); }
  }
  function bytes(n) {
    n = Math.max(0, Math.round(n));
    if (n < 1024) { return n + ' B'; }
    var units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    var v = n, u = -1;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ' + units[u];
  }
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    if (s >= DAY) { return Math.floor(s / DAY) + 'd ' + Math.floor(s % DAY / 3600) + 'h'; }
    if (s >= 3600) { return Math.floor(s / 3600) + 'h ' + Math.floor(s % 3600 / 60) + 'm'; }
    if (s >= 60) { return Math.floor(s / 60) + 'm ' + (s % 60) + 's'; }
    return s + 's';
  }
  function sum(map) {
    var t = 0;
    Object.keys(map || {}).forEach(function (k) { t += map[k]; });
    return t;
  }
  function badge(cls, text) { return el('span', 'badge ' + cls, text); }
  function cell(row, cls, text) {
    var td = el('td', cls, text);
    row.appendChild(td);
    return td;
  }
  function x(n, i) {
    var step = PLOT_W / (points - 1);
    return Math.max(0, PLOT_W - (n - 1 - i) * step).toFixed(1);
  }
  function plot(rates, sampleSeconds) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'plot');
    svg.setAttribute('viewBox', '0 0 ' + PLOT_W + ' ' + PLOT_H);
    svg.setAttribute('width', PLOT_W);
    svg.setAttribute('height', PLOT_H);
    svg.setAttribute('role', 'img');
    var title = document.createElementNS(SVG, 'title');
    var peak = rates.length ? Math.max.apply(null, rates) : 0;
    title.textContent = 'bytes per second, ' + sampleSeconds + ' s per point; peak ' + bytes(peak) + '/s';
    svg.appendChild(title);
    var floor = (PLOT_H - 1.5).toFixed(1);
    var base = document.createElementNS(SVG, 'path');
    base.setAttribute('class', 'base');
    base.setAttribute('d', 'M0,' + floor + ' L' + PLOT_W + ',' + floor);
    svg.appendChild(base);
    var line = '';
    if (rates.length > 0) {
      var max = Math.max(1, Math.max.apply(null, rates));
      rates.forEach(function (r, i) {
        var y = (PLOT_H - 2) - (PLOT_H - 4) * r / max;
        line += (i === 0 ? 'M' : ' L') + x(rates.length, i) + ',' + y.toFixed(1);
      });
    }
    var area = document.createElementNS(SVG, 'path');
    area.setAttribute('class', 'area');
    area.setAttribute('d', line ? line + ' L' + PLOT_W + ',' + PLOT_H + ' L' + x(rates.length, 0) + ',' + PLOT_H + ' Z' : '');
    var path = document.createElementNS(SVG, 'path');
    path.setAttribute('class', 'line');
    path.setAttribute('d', line);
    svg.appendChild(area);
    svg.appendChild(path);
    return svg;
  }
  function meter(id, used, max) {
    var m = document.getElementById(id);
    if (!m) { return; }
    m.max = Math.max(1, max);
    m.low = Math.floor(max * 7 / 10);
    m.high = Math.floor(max * 9 / 10);
    m.value = used;
  }
  function replaceBody(tableId, rows) {
    var table = document.getElementById(tableId);
    var old = table.tBodies[0];
    var tbody = document.createElement('tbody');
    rows.forEach(function (r) { tbody.appendChild(r); });
    table.replaceChild(tbody, old);
  }
  function reasonsTitle(map) {
    var keys = Object.keys(map || {});
    return keys.length ? keys.map(function (k) { return k + ': ' + map[k]; }).join(', ') : 'none';
  }

  function render(s) {
    var p = s.process;
    setText('replica', s.replica);
    setText('version', s.version);
    setText('uptime', duration(s.uptimeSeconds));
    var served = s.connectors.filter(function (c) { return c.agents > 0; }).length;
    setText('agents-total', s.agentsTotal);
    setText('served', served + ' / ' + s.connectors.length);
    setText('served-sub', served < s.connectors.length ? 'some have no agent' : 'all have an agent');
    setText('tunnels', p.tunnelsOpen + ' / ' + p.tunnelsMax);
    setText('tunnels-sub', 'at most ' + p.tunnelsPerAgentMax + ' per agent');
    meter('tunnels-meter', p.tunnelsOpen, p.tunnelsMax);
    setText('memory', bytes(p.memoryUsedBytes) + ' / ' + bytes(p.memoryLimitBytes));
    meter('memory-meter', p.memoryUsedBytes, p.memoryLimitBytes);

    replaceBody('connectors', s.connectors.map(function (c) {
      var down = c.agents === 0;
      var tr = el('tr', down ? 'down' : 'up');
      tr.setAttribute('data-connector', c.name);
      var name = cell(tr, 'name', c.name);
      name.appendChild(document.createTextNode(' '));
      name.appendChild(down ? badge('bad', 'no agent') : badge('ok', 'served'));
      cell(tr, '', c.port);
      cell(tr, 'num agents', c.agents);
      cell(tr, 'num streams', c.streams);
      cell(tr, 'num rate', bytes(c.bytesPerSecond) + '/s');
      cell(tr, '', null).appendChild(plot(c.rates, s.sampleSeconds));
      cell(tr, 'num bytes', bytes(c.bytes));
      cell(tr, 'num refused', sum(c.refusals)).title = reasonsTitle(c.refusals);
      return tr;
    }));

    replaceBody('agents', s.agents.map(function (a) {
      var tr = el('tr');
      tr.setAttribute('data-agent', a.id);
      var name = cell(tr, 'name', a.id);
      if (a.draining) {
        name.appendChild(document.createTextNode(' '));
        name.appendChild(badge('warn', 'draining'));
      }
      cell(tr, '', a.replica);
      var since = cell(tr, '', a.connectedSince.replace('T', ' ').replace('Z', ' UTC') + ' ');
      since.title = a.connectedSince;
      since.appendChild(el('span', 'sub', '(' + duration(a.connectedSeconds) + ')'));
      var left = a.tokenSecondsLeft;
      cell(tr, 'token ' + (left <= 0 ? 'bad' : left < DAY ? 'warn' : ''), left <= 0 ? 'expired' : duration(left));
      cell(tr, 'caps', a.caps.join(' '));
      cell(tr, '', a.connectors.join(', '));
      cell(tr, 'num streams', a.streams);
      cell(tr, 'num bytes', bytes(a.bytes));
      return tr;
    }));
    setText('agents-more', s.agentsTotal > s.agents.length
      ? 'and ' + (s.agentsTotal - s.agents.length) + ' more (first ' + s.agents.length + ' by id shown)' : '');

    var rows = [];
    function reason(what, map) {
      Object.keys(map || {}).forEach(function (k) {
        var tr = el('tr');
        cell(tr, '', what);
        cell(tr, '', k);
        cell(tr, 'num', map[k]);
        rows.push(tr);
      });
    }
    s.connectors.forEach(function (c) { reason('client of ' + c.name, c.refusals); });
    reason('tunnel refused', p.tunnelRefusals);
    reason('auth failure', p.authFailures);
    if (rows.length === 0) {
      var none = el('tr', 'none');
      var td = cell(none, '', 'none since start');
      td.colSpan = 3;
      rows.push(none);
    }
    replaceBody('reasons', rows);
    setText('updated', 'updated ' + new Date().toLocaleTimeString());
    document.body.classList.remove('stale');
  }

  function refresh() {
    fetch('status.json', {cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.json();
      })
      .then(render)
      .catch(function (e) {
        document.body.classList.add('stale');
        setText('updated', 'refresh failed (' + e.message + '), showing older numbers');
      })
      .then(function () { setTimeout(refresh, PERIOD_MS); });
  }
  setText('updated', 'refreshing every ' + PERIOD_MS / 1000 + ' s');
  setTimeout(refresh, 0);
}());
