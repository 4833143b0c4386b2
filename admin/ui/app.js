// The shardgate dashboard. Plain browser JavaScript with no dependencies: it
// is embedded in the node binary and must work offline.
//
// Data flow: one EventSource on /v1/events brings "snapshot" (cluster and
// table), "stats" (the cluster view, every second or so) and the engine's
// "member", "table" and "migration" events; the last three make the page
// re-read /v1/cluster and /v1/partitions, coalesced so a burst costs one
// fetch. The partition map is built once per table size and updated in place:
// with 1024 shards, rebuilding it on every update would stall the page.
(() => {
  'use strict';

  const TOKEN_KEY = 'shardgate.adminToken';
  const CHART_WINDOW_MS = 5 * 60 * 1000;
  const EVENT_LOG_MAX = 60;
  const MAX_REPORT_MOVES = 40;
  const SIZES_EVERY_MS = 5000;

  const $ = (sel) => document.querySelector(sel);

  const state = {
    authMode: ($('meta[name="shardgate-auth"]') || {}).content || 'open',
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    cluster: null,
    partitions: null,
    tableVersion: -1, // version of the table the map shows
    versionRefreshAt: 0,
    rows: new Map(), // node name -> {tr, cells}
    cells: [], // shard id -> element
    cellKeys: [], // shard id -> signature of what the cell shows
    inactive: new Set(), // nodes that are dead or gone: their shards are orphaned
    samples: new Map(), // node name -> [[t, connections, msgsPerSec], ...]
    memberStates: new Map(), // node name -> last state logged for it
    selected: -1,
    es: null,
    refresh: { timer: 0, busy: false, again: false },
    pendingAction: null,
    pendingForce: null, // the forced variant of the pending action, once the guards refused it
    lastSeq: 0, // newest event-log entry shown
    route: null, // {key, version} of the last route look-up
    sizesAt: 0, // when /v1/partitions was last read for the shards' sizes
    historyOf: '', // "id@version" of the shard history on screen
    freshAt: 0, // when the page last read the cluster
    chartsQueued: false,
  };

  // ---- small helpers -------------------------------------------------------

  // el builds an element; children are nodes or strings (always text, never
  // HTML: node names and keys come from users).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'style') Object.assign(e.style, v);
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e[k] = v;
    }
    for (const c of children) {
      if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function setText(e, text) {
    const s = String(text);
    if (e.textContent !== s) e.textContent = s;
  }

  const byName = (a, b) => a.localeCompare(b, undefined, { numeric: true });

  function fmtBytes(n) {
    if (!n) return '0 B';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function fmtNum(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  }

  const fmtTime = (ms) => new Date(ms).toLocaleTimeString();
  // fmtWhen leaves the date out for today.
  const fmtWhen = (ms) => (new Date(ms).toDateString() === new Date().toDateString() ? fmtTime(ms) : new Date(ms).toLocaleString());

  // nodeColour is stable per name: the same node keeps its colour across
  // reloads and on every operator's screen. Names ending in a number (n1,
  // node-07) step the hue by the golden angle so neighbours differ clearly.
  const colours = new Map();
  function nodeColour(name) {
    let c = colours.get(name);
    if (c) return c;
    const m = /^(.*?)(\d+)$/.exec(name);
    const stem = m ? m[1] : name;
    let h = 2166136261;
    for (let i = 0; i < stem.length; i++) {
      h ^= stem.charCodeAt(i);
      h = Math.imul(h, 16777619) >>> 0;
    }
    const n = m ? parseInt(m[2], 10) : (h >>> 9);
    const hue = Math.round(((h % 360) + n * 137.508) % 360);
    const light = [46, 58, 38][n % 3];
    c = `hsl(${hue} 62% ${light}%)`;
    colours.set(name, c);
    return c;
  }

  const swatch = (name) => el('span', { class: 'swatch', style: { backgroundColor: nodeColour(name) } });

  // ---- API -----------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    try { data = await res.json(); } catch (_) { /* not JSON: use the status */ }
    if (!res.ok) {
      const e = new Error(data && data.error ? data.error.message : `${res.status} ${res.statusText}`);
      e.status = res.status;
      if (res.status === 401) askForToken(e.message);
      throw e;
    }
    return data;
  }

  function showBanner(msg) {
    const b = $('#banner');
    setText(b, msg || '');
    b.hidden = !msg;
  }

  function askForToken(msg) {
    $('#login').classList.add('needed');
    showBanner(msg || 'This cluster needs the admin token: paste it above.');
    setLive('locked', 'warn');
    if (state.es) { state.es.close(); state.es = null; }
  }

  // ---- live stream ---------------------------------------------------------

  function setLive(text, cls) {
    const p = $('#live');
    setText(p, text);
    p.className = 'pill' + (cls ? ' ' + cls : '');
  }

  function connectEvents() {
    if (state.es) state.es.close();
    // The durable event log: the last entries first, then new ones. A new
    // stream after a break resumes after the last entry shown (an
    // EventSource that reconnects by itself sends Last-Event-ID).
    const q = [state.lastSeq > 0 ? 'since=' + state.lastSeq : 'tail=' + EVENT_LOG_MAX];
    if (state.token) q.push('token=' + encodeURIComponent(state.token));
    const url = '/v1/events?' + q.join('&');
    const es = new EventSource(url);
    state.es = es;
    es.onopen = () => {
      setLive('live', 'good');
      if (document.body.classList.contains('stale')) scheduleRefresh();
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a 401): find out why through fetch, which
        // reports the error body, and try again later.
        setLive('disconnected', 'bad');
        setTimeout(() => { if (state.es === es) refreshNow().then(connectEvents, () => {}); }, 3000);
      } else {
        setLive('reconnecting', 'warn');
        // Is the node still there? refreshNow marks the page stale if not.
        scheduleRefresh();
      }
    };
    for (const type of ['snapshot', 'stats', 'member', 'table', 'migration']) {
      es.addEventListener(type, (e) => onEvent(type, e.data));
    }
    es.addEventListener('log', (e) => {
      let entry;
      try { entry = JSON.parse(e.data); } catch (_) { return; }
      logEntry(entry);
    });
  }

  function onEvent(type, raw) {
    let ev;
    try { ev = JSON.parse(raw); } catch (_) { return; }
    const data = ev && ev.data;
    switch (type) {
      case 'snapshot':
        if (data && data.cluster) applyCluster(data.cluster, true);
        if (data && data.partitions) applyPartitions(data.partitions);
        break;
      case 'stats':
        if (data) { applyCluster(data, true); markFresh(); }
        // Shard sizes change without a table change: re-read them every
        // few seconds while the page is looked at.
        if (Date.now() - state.sizesAt > SIZES_EVERY_MS && document.visibilityState === 'visible') {
          state.sizesAt = Date.now();
          scheduleRefresh();
        }
        break;
      default:
        // The durable log says what happened; these only mean "re-read".
        scheduleRefresh();
    }
  }

  // logEntry shows one entry of the cluster's event log (the same on every
  // node, kept across restarts): what, on which node or shard, who, why.
  function logEntry(e) {
    if (!e || !e.seq || e.seq <= state.lastSeq) return;
    state.lastSeq = e.seq;
    const parts = [e.action || ''];
    if (e.node) parts.push(`node=${e.node}`);
    if (e.shard !== undefined && e.shard !== null) parts.push(`shard=${e.shard}`);
    if (e.changes && e.changes.length) parts.push(`${e.changes.length} shard${e.changes.length === 1 ? '' : 's'}`);
    if (e.moves && e.moves.length) parts.push(`${e.moves.length} move${e.moves.length === 1 ? '' : 's'}`);
    const li = el('li', { dataset: { seq: String(e.seq) }, title: `#${e.seq} · table v${e.version}${e.actor ? ' · by ' + e.actor : ''}` },
      el('time', {}, fmtWhen(e.at || Date.now())), el('span', { class: 'type' }, e.type),
      el('span', { class: 'what' }, parts.join(' ')),
      e.reason ? el('div', { class: 'muted why' }, e.reason) : null);
    const list = $('#event-log');
    list.prepend(li);
    while (list.children.length > EVENT_LOG_MAX) list.lastChild.remove();
  }

  // scheduleRefresh coalesces bursts of events into one pair of fetches, and
  // never runs two at once.
  function scheduleRefresh() {
    const r = state.refresh;
    if (r.busy) { r.again = true; return; }
    if (r.timer) return;
    r.timer = setTimeout(() => {
      r.timer = 0;
      r.busy = true;
      refreshNow().catch(() => {}).finally(() => {
        r.busy = false;
        if (r.again) { r.again = false; scheduleRefresh(); }
      });
    }, 60);
  }

  async function refreshNow() {
    try {
      const [cv, pv] = await Promise.all([api('GET', '/v1/cluster'), api('GET', '/v1/partitions')]);
      state.sizesAt = Date.now();
      applyCluster(cv, false);
      applyPartitions(pv);
      markFresh();
      // The shard's history is read again once the table moved on: the
      // change the operator just made is in it.
      if (state.selected >= 0) showShard(state.selected, state.historyOf !== `${state.selected}@${pv.version}`);
    } catch (e) {
      if (e.status !== 401) {
        markStale();
        showBanner(`Cannot read the cluster from ${location.host}: ${e.message}. What is shown is as of ${fmtWhen(state.freshAt || Date.now())} and may be out of date.`);
      }
      throw e;
    }
  }

  // markStale greys out what the page shows when the node serving it stops
  // answering: its last view (this node active, coordinator, quorum yes)
  // must not read as the present.
  function markStale() {
    document.body.classList.add('stale');
    setLive('no answer', 'bad');
  }

  function markFresh() {
    state.freshAt = Date.now();
    document.body.classList.remove('stale');
  }

  // ---- cluster and nodes -----------------------------------------------------

  function applyCluster(cv, sample) {
    if (!cv || !Array.isArray(cv.nodes)) return;
    state.cluster = cv;
    showBanner('');
    setText($('#coordinator'), cv.coordinator || '–');
    setText($('#partition-count'), cv.partitions);
    setText($('#backup-count'), cv.backups);
    const q = $('#quorum');
    setText(q, cv.quorum ? 'yes' : 'no');
    q.className = 'pill ' + (cv.quorum ? 'good' : 'bad');
    // The stream may have skipped a table event: another version than the
    // one on screen means the map is stale. At most one such re-read every
    // few seconds, in case the two views never agree.
    if (state.partitions && cv.version !== state.tableVersion && Date.now() - state.versionRefreshAt > 5000) {
      state.versionRefreshAt = Date.now();
      scheduleRefresh();
    }

    const names = cv.nodes.map((n) => n.name).sort(byName);
    setText($('#node-count'), `· ${names.length}`);
    const inactive = new Set();
    for (const n of cv.nodes) {
      if (isGone(n)) inactive.add(n.name);
      if (!state.memberStates.has(n.name)) state.memberStates.set(n.name, n.state);
      updateRow(n);
    }
    const seen = new Set(names);
    for (const [name, row] of state.rows) {
      if (!seen.has(name)) { row.tr.remove(); state.rows.delete(name); }
    }
    const body = $('#nodes tbody');
    names.forEach((name, i) => {
      const tr = state.rows.get(name).tr;
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    const orphansChanged = inactive.size !== state.inactive.size || [...inactive].some((n) => !state.inactive.has(n));
    state.inactive = inactive;
    if (orphansChanged && state.partitions) applyPartitions(state.partitions, true);
    updateMoveTargets();
    if (sample) recordSample(cv);
  }

  const isGone = (n) => (n.state === 'dead' && !n.failed_over) || n.state === 'left';

  function updateRow(n) {
    let row = state.rows.get(n.name);
    if (!row) {
      const c = {
        name: el('td', {}, swatch(n.name), el('b', {}, n.name)),
        state: el('span', { class: 'state' }),
        role: el('td'),
        owned: el('td', { class: 'num' }),
        backed: el('td', { class: 'num' }),
        conns: el('td', { class: 'num' }),
        rate: el('td', { class: 'num' }),
        mem: el('td', { class: 'num' }),
        drain: el('button', { type: 'button', class: 'small', dataset: { action: 'drain', node: n.name } }, 'Drain'),
        failover: el('button', { type: 'button', class: 'small danger', dataset: { action: 'failover', node: n.name } }, 'Failover'),
        readmit: el('button', { type: 'button', class: 'small', dataset: { action: 'readmit', node: n.name } }, 'Readmit'),
      };
      const tr = el('tr', { dataset: { node: n.name } }, c.name, el('td', {}, c.state), c.role,
        c.owned, c.backed, c.conns, c.rate, c.mem, el('td', { class: 'actions' }, c.drain, c.failover, c.readmit));
      row = { tr, c };
      state.rows.set(n.name, row);
    }
    const c = row.c;
    // A node failed over while it runs reads dead, as the cluster treats
    // it; the mark says why, and that readmit can bring it back.
    // A node that checks client tokens otherwise than the one serving
    // this page refuses tokens it accepts: a misconfiguration to show.
    setText(c.state, (n.failed_over ? 'dead · failed over' : n.state) + (n.auth_differs ? ' · tokens differ' : ''));
    c.state.className = 'state ' + (n.failed_over ? 'failed' : n.state);
    if (n.coordinator !== row.coordinator) {
      row.coordinator = n.coordinator;
      c.role.replaceChildren(n.coordinator ? el('span', { class: 'badge', title: 'coordinator: computes and publishes the table' }, 'coordinator') : '');
    }
    setText(c.owned, n.owned);
    setText(c.backed, n.backed_up);
    // A node that is gone reports no load: its last figures would read as
    // live ones.
    const gone = isGone(n);
    setText(c.conns, gone ? '–' : fmtNum(n.connections));
    setText(c.rate, gone ? '–' : fmtNum(n.messages_per_sec));
    setText(c.mem, gone ? '–' : fmtBytes(n.memory_bytes));
    c.drain.disabled = n.state !== 'active';
    c.failover.disabled = n.state === 'left' || n.state === 'dead';
    c.readmit.hidden = !n.failed_over && n.state !== 'draining';
    row.tr.classList.toggle('gone', gone);
    row.node = n;
  }

  function activeNodes() {
    return state.cluster ? state.cluster.nodes.filter((n) => n.state === 'active').map((n) => n.name).sort(byName) : [];
  }

  function updateMoveTargets() {
    const sel = $('#move-to');
    const owner = state.selected >= 0 && state.cells[state.selected] ? state.cells[state.selected].dataset.owner : '';
    const want = activeNodes().filter((n) => n !== owner);
    const have = [...sel.options].map((o) => o.value);
    if (want.join('\n') === have.join('\n')) return;
    const keep = sel.value;
    sel.replaceChildren(...want.map((n) => el('option', { value: n }, n)));
    if (want.includes(keep)) sel.value = keep;
  }

  // ---- charts ----------------------------------------------------------------

  function recordSample(cv) {
    const now = Date.now();
    for (const n of cv.nodes) {
      if (isGone(n)) continue; // its line ends where the node went away
      let s = state.samples.get(n.name);
      if (!s) { s = []; state.samples.set(n.name, s); }
      s.push([now, n.connections || 0, n.messages_per_sec || 0]);
    }
    for (const [name, s] of state.samples) {
      while (s.length && s[0][0] < now - CHART_WINDOW_MS) s.shift();
      if (!s.length) state.samples.delete(name);
    }
    queueCharts();
  }

  function queueCharts() {
    if (state.chartsQueued) return;
    state.chartsQueued = true;
    requestAnimationFrame(() => {
      state.chartsQueued = false;
      drawChart($('#chart-connections'), 1, fmtNum);
      drawChart($('#chart-rate'), 2, fmtNum);
    });
  }

  function drawChart(canvas, field, fmt) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    if (!w || !h) return;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const left = 44, right = 8, top = 8, bottom = 18;
    const pw = w - left - right, ph = h - top - bottom;
    // The window grows from one minute to five as samples accumulate, so a
    // freshly opened page shows lines rather than a dot at the right edge.
    const now = Date.now();
    let max = 0, oldest = now;
    for (const s of state.samples.values()) {
      for (const p of s) max = Math.max(max, p[field]);
      if (s.length) oldest = Math.min(oldest, s[0][0]);
    }
    max = niceCeil(max);
    const span = Math.min(CHART_WINDOW_MS, Math.max(60 * 1000, now - oldest));
    const t0 = now - span;

    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#6b7385';
    g.strokeStyle = '#e6e8ee';
    g.lineWidth = 1;
    g.textBaseline = 'middle';
    g.textAlign = 'right';
    for (let i = 0; i <= 2; i++) {
      const y = top + ph - (ph * i) / 2;
      g.beginPath(); g.moveTo(left, Math.round(y) + 0.5); g.lineTo(left + pw, Math.round(y) + 0.5); g.stroke();
      g.fillText(fmt((max * i) / 2), left - 6, y);
    }
    g.textBaseline = 'top';
    g.textAlign = 'left';
    g.fillText(span >= 120000 ? `−${Math.round(span / 60000)} min` : `−${Math.round(span / 1000)} s`, left, top + ph + 4);
    g.textAlign = 'right';
    g.fillText('now', left + pw, top + ph + 4);
    if (!state.samples.size) {
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillText('waiting for data…', left + pw / 2, top + ph / 2);
      return;
    }
    g.lineWidth = 1.6;
    g.lineJoin = 'round';
    for (const name of [...state.samples.keys()].sort(byName)) {
      const s = state.samples.get(name);
      g.strokeStyle = nodeColour(name);
      g.beginPath();
      let x = 0, y = 0;
      s.forEach((p, i) => {
        x = left + ((p[0] - t0) / span) * pw;
        y = top + ph - (max ? (p[field] / max) * ph : 0);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
      g.fillStyle = nodeColour(name);
      g.beginPath();
      g.arc(x, y, 2.5, 0, 2 * Math.PI);
      g.fill();
    }
  }

  function niceCeil(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // ---- partition map -----------------------------------------------------------

  function buildMap(count) {
    const map = $('#partition-map');
    const frag = document.createDocumentFragment();
    state.cells = new Array(count);
    state.cellKeys = new Array(count).fill('');
    for (let i = 0; i < count; i++) {
      const c = el('div', { class: 'cell', dataset: { shard: String(i), owner: '', backups: '' } });
      state.cells[i] = c;
      frag.append(c);
    }
    map.classList.toggle('dense', count > 400);
    map.replaceChildren(frag);
    if (state.selected >= count) state.selected = -1;
    if (state.selected >= 0) state.cells[state.selected].classList.add('selected');
  }

  // applyPartitions updates only the cells whose owner, replicas or state
  // changed. force re-checks every cell (the set of dead nodes changed).
  function applyPartitions(pv, force) {
    if (!pv || !Array.isArray(pv.partitions)) return;
    state.partitions = pv;
    let count = pv.partitions.length;
    for (const p of pv.partitions) count = Math.max(count, p.id + 1);
    if (state.cells.length !== count) buildMap(count);
    state.tableVersion = pv.version;
    setText($('#table-version'), pv.version);
    followRoute();
    const owned = new Map();
    let migrating = 0, under = 0, orphaned = 0;
    for (const p of pv.partitions) {
      const cell = state.cells[p.id];
      if (!cell) continue;
      const backups = p.backups || [], pending = p.pending || [];
      const orphan = !p.owner || state.inactive.has(p.owner);
      owned.set(p.owner, (owned.get(p.owner) || 0) + 1);
      if (p.state === 'migrating') migrating++;
      if (p.under_replicated) under++;
      if (orphan) orphaned++;
      const key = [p.owner, backups.join(','), pending.join(','), p.state, p.under_replicated ? 1 : 0, orphan ? 1 : 0, p.messages, p.bytes].join('|');
      if (!force && state.cellKeys[p.id] === key) continue;
      state.cellKeys[p.id] = key;
      if (cell.dataset.owner !== p.owner) {
        cell.dataset.owner = p.owner || '';
        cell.style.backgroundColor = p.owner ? nodeColour(p.owner) : '';
      }
      cell.dataset.backups = backups.join(',');
      cell.classList.toggle('migrating', p.state === 'migrating');
      cell.classList.toggle('under', !!p.under_replicated);
      cell.classList.toggle('orphan', orphan);
      let title = `shard ${p.id} · ${p.state}${p.under_replicated ? ' · UNDER-REPLICATED' : ''}\n` +
        `home: ${p.owner || 'none'}${orphan && p.owner ? ' (down)' : ''}\n` +
        `backups: ${backups.length ? backups.join(', ') : 'none'}`;
      if (pending.length) title += `\ncopying to: ${pending.join(', ')}`;
      title += `\n${fmtNum(p.messages || 0)} messages · ${fmtBytes(p.bytes || 0)}`;
      cell.title = title;
    }
    updateLegend(owned, migrating, under, orphaned, count);
  }

  function updateLegend(owned, migrating, under, orphaned, count) {
    const names = new Set(state.cluster ? state.cluster.nodes.map((n) => n.name) : []);
    for (const n of owned.keys()) if (n) names.add(n);
    const items = [...names].sort(byName).map((n) => el('span', { dataset: { legendNode: n } },
      el('span', { class: 'sample', style: { backgroundColor: nodeColour(n) } }), `${n} (${owned.get(n) || 0})`));
    items.push(el('span', {}, el('span', { class: 'sample migrating' }), `migrating (${migrating})`));
    items.push(el('span', {}, el('span', { class: 'sample under' }), `under-replicated (${under})`));
    if (orphaned) items.push(el('span', {}, el('span', { class: 'sample orphan' }), `home down (${orphaned})`));
    $('#legend').replaceChildren(...items);
    setText($('#map-summary'), `${count} shards · ${migrating} migrating · ${under} under-replicated`);
  }

  // ---- shard panel ---------------------------------------------------------------

  async function showShard(id, fetchHistory = true) {
    const p = state.partitions && state.partitions.partitions.find((x) => x.id === id);
    if (state.selected >= 0 && state.cells[state.selected]) state.cells[state.selected].classList.remove('selected');
    state.selected = id;
    if (state.cells[id]) state.cells[id].classList.add('selected');
    setText($('#shard-id'), id);
    $('#shard-empty').hidden = true;
    $('#shard-body').hidden = false;
    const backups = (p && p.backups) || [];
    const names = (list) => list.length ? list.flatMap((n, i) => [i ? ', ' : '', swatch(n), n]) : ['none'];
    const facts = [['home', names(p && p.owner ? [p.owner] : [])], ['backups', names(backups)],
      ['state', [p ? p.state + (p.under_replicated ? ', under-replicated' : '') : '?']]];
    if (p && p.pending && p.pending.length) facts.push(['copying to', names(p.pending)]);
    if (p) facts.push(['messages', [fmtNum(p.messages || 0)]], ['size', [fmtBytes(p.bytes || 0)]]);
    $('#shard-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, ...v)]));
    updateMoveTargets();
    if (!fetchHistory) return;
    state.historyOf = `${id}@${state.tableVersion}`;
    const list = $('#shard-history');
    list.replaceChildren(el('li', { class: 'muted' }, 'loading…'));
    try {
      const h = await api('GET', `/v1/partitions/${id}/history`);
      if (state.selected !== id) return;
      // A change that keeps the home (only the backups moved) says so
      // rather than "n1 → n1".
      const items = h.history.slice().reverse().map((c) => el('li', {},
        el('time', {}, c.at ? fmtWhen(c.at) : ''),
        c.from === c.to ? `v${c.version}: home stays ${c.to || '∅'}` : `v${c.version}: ${c.from || '∅'} → ${c.to || '∅'}`,
        c.backups && c.backups.length ? ` (backups ${c.backups.join(', ')})` : '',
        c.reason ? el('div', { class: 'muted' }, c.reason) : null));
      list.replaceChildren(...(items.length ? items : [el('li', { class: 'muted' }, 'no recorded changes')]));
    } catch (e) {
      list.replaceChildren(el('li', { class: 'err' }, e.message));
    }
  }

  // ---- route look-up -------------------------------------------------------------

  // lookUpRoute shows where key lives. A follow-up (the table changed since)
  // re-reads it in place and leaves the selected shard alone.
  async function lookUpRoute(key, followUp) {
    const out = $('#route-result');
    if (!key) { out.replaceChildren(el('span', { class: 'err' }, 'Type a key first.')); return; }
    state.route = { key, version: Infinity }; // no follow-ups while this one runs
    if (!followUp) out.replaceChildren(el('span', { class: 'muted' }, 'looking up…'));
    try {
      const r = await api('GET', '/v1/route?key=' + encodeURIComponent(key));
      if (!state.route || state.route.key !== key) return; // another look-up started meanwhile
      state.route.version = r.version;
      out.replaceChildren(el('dl', { class: 'kv' },
        el('dt', {}, 'key'), el('dd', {}, r.key),
        el('dt', {}, 'shard'), el('dd', {}, el('a', { href: '#', onclick: (e) => { e.preventDefault(); showShard(r.shard); } }, String(r.shard))),
        el('dt', {}, 'home'), el('dd', {}, swatch(r.owner), r.owner),
        el('dt', {}, 'backups'), el('dd', {}, ...(r.backups.length ? r.backups.flatMap((b, i) => [i ? ', ' : '', swatch(b), b]) : ['none'])),
        el('dt', {}, 'ws url'), el('dd', {}, r.ws_url || '–'),
        el('dt', {}, 'table'), el('dd', {}, 'v' + r.version)));
      if (!followUp) showShard(r.shard);
    } catch (e) {
      if (state.route && state.route.key === key) state.route = null;
      out.replaceChildren(el('span', { class: 'err' }, e.message));
    }
  }

  // followRoute keeps the look-up box current: an answer from an older
  // table may name a home the shard has left.
  function followRoute() {
    const r = state.route;
    if (r && r.version < state.tableVersion) lookUpRoute(r.key, true);
  }

  // ---- actions with confirmation ---------------------------------------------------

  // confirmAction opens the dialog for an action: request(options) posts
  // it. The server's dry-run plan is shown before anything is confirmed;
  // when its guards refuse the action, the reason is shown and Confirm
  // becomes "Force anyway".
  function confirmAction(title, text, request) {
    const dlg = $('#confirm');
    setText($('#confirm-title'), title);
    setText($('#confirm-text'), text);
    const out = $('#confirm-report');
    out.replaceChildren(el('p', { class: 'muted', id: 'plan-loading' }, 'asking the coordinator for the plan…'));
    const ok = $('#confirm-ok');
    ok.hidden = false;
    ok.disabled = false;
    setText(ok, 'Confirm');
    setText($('#confirm-cancel'), 'Cancel');
    state.pendingAction = () => request({});
    state.pendingForce = null;
    dlg.showModal();
    ok.focus();
    const pending = state.pendingAction;
    request({ dry_run: true }).then((plan) => {
      if (state.pendingAction !== pending) return;
      out.replaceChildren(renderReport(plan, 'plan-report'));
    }, (e) => {
      if (state.pendingAction !== pending) return;
      if (e.status === 409) {
        // Refused by the guards: say why, and let the operator force it.
        out.replaceChildren(el('div', { id: 'plan-report' }, el('p', { class: 'err' }, e.message)));
        state.pendingForce = () => request({ force: true });
        setText(ok, 'Force anyway');
      } else {
        out.replaceChildren(el('div', { id: 'plan-report' }, el('p', { class: 'err' }, 'No plan: ' + e.message)));
      }
    });
  }

  async function runPendingAction() {
    const run = state.pendingForce || state.pendingAction;
    if (!run) return;
    state.pendingAction = null;
    state.pendingForce = null;
    const ok = $('#confirm-ok');
    ok.disabled = true;
    setText(ok, 'Working…');
    const out = $('#confirm-report');
    try {
      out.replaceChildren(renderReport(await run(), 'move-report'));
    } catch (e) {
      out.replaceChildren(el('p', { class: 'err' }, e.message));
    }
    ok.hidden = true;
    setText($('#confirm-cancel'), 'Close');
    scheduleRefresh();
  }

  // renderReport lists the moves of a plan (a dry run) or of an action
  // carried out.
  function renderReport(r, id) {
    const moves = r.moves || [];
    const byTarget = new Map();
    for (const m of moves) {
      const k = `${m.to} (${m.role})`;
      byTarget.set(k, (byTarget.get(k) || 0) + 1);
    }
    const summary = [...byTarget].sort((a, b) => byName(a[0], b[0])).map(([k, n]) => `${k}: ${n}`).join(' · ');
    const list = el('ul', {}, ...moves.slice(0, MAX_REPORT_MOVES).map((m) =>
      el('li', {}, m.from === m.to
        ? `shard ${m.shard}: ${m.to} takes over with its copy (${m.role})`
        : `shard ${m.shard}: ${m.from || '∅'} → ${m.to} (${m.role}${m.bytes ? ', ' + fmtBytes(m.bytes) : ''})`)));
    if (moves.length > MAX_REPORT_MOVES) list.append(el('li', { class: 'muted' }, `and ${moves.length - MAX_REPORT_MOVES} more`));
    // A move names its shard and target; the other actions their node.
    const what = r.action === 'move' && moves.length
      ? `move shard ${moves[0].shard} to ${r.node}`
      : (r.action || 'action') + (r.node ? ' ' + r.node : '');
    const head = r.dry_run ? `Plan of ${what}` : `${what} started`;
    return el('div', { id },
      el('p', {}, el('b', {}, head), ` · from table v${r.version} · ${moves.length} move${moves.length === 1 ? '' : 's'}`),
      r.summary ? el('p', { class: 'plan-summary' }, r.summary) : null,
      r.forced ? el('p', { class: 'err' }, 'forced past: ' + r.refusal) : null,
      summary ? el('p', { class: 'muted' }, summary) : null,
      moves.length ? list : el('p', { class: 'muted' }, 'Nothing needs to move.'));
  }

  function ownedBy(name) {
    return state.partitions ? state.partitions.partitions.filter((p) => p.owner === name) : [];
  }

  function confirmDrain(name) {
    const row = state.rows.get(name);
    const n = row ? row.node : {};
    const others = activeNodes().filter((x) => x !== name);
    confirmAction(`Drain ${name}?`,
      `Drain ${name}: its ${n.owned || 0} shards will move to the other nodes (${others.join(', ') || 'none left!'}), ` +
      `and its ${n.backed_up || 0} backup copies will be placed elsewhere. ` +
      `Then ${name} leaves the cluster and its clients are asked to reconnect to other nodes.`,
      (opts) => api('POST', `/v1/nodes/${encodeURIComponent(name)}/drain`, opts));
  }

  function confirmFailover(name) {
    const heirs = new Map();
    for (const p of ownedBy(name)) {
      const b = (p.backups || [])[0] || 'no backup';
      heirs.set(b, (heirs.get(b) || 0) + 1);
    }
    const to = [...heirs].sort((a, b) => byName(a[0], b[0])).map(([b, k]) => `${b} (${k})`).join(', ');
    // The backups take the shards over at once; the plan below is the
    // server's and also lists the moves that rebalance afterwards.
    confirmAction(`Fail over ${name}?`,
      `Fail over ${name}: treat it as failed now, without waiting for failure detection. ` +
      `Its ${ownedBy(name).length} shards will be taken over by their backups${to ? ': ' + to : ''}, ` +
      'and then rebalanced: the plan below lists every change.',
      (opts) => api('POST', `/v1/nodes/${encodeURIComponent(name)}/failover`, opts));
  }

  function confirmRebalance() {
    const act = activeNodes();
    const P = state.cluster ? state.cluster.partitions : 0;
    const now = act.map((n) => `${n} ${((state.rows.get(n) || {}).node || {}).owned || 0}`).join(', ');
    confirmAction('Rebalance the cluster?',
      `Rebalance: recompute the table from the ${act.length} active nodes and start the moves it implies ` +
      `(about ${act.length ? Math.round(P / act.length) : 0} shards each). Shards owned now: ${now || 'none'}.`,
      (opts) => api('POST', '/v1/rebalance', opts));
  }

  function confirmMove() {
    const id = state.selected;
    const to = $('#move-to').value;
    if (id < 0 || !to) return;
    const from = state.cells[id] ? state.cells[id].dataset.owner : '?';
    confirmAction(`Move shard ${id}?`,
      `Move shard ${id} from ${from} to ${to}: ${to} gets a copy of its data and then becomes its home. ` +
      `Its connections stay where they are and are forwarded.`,
      (opts) => api('POST', `/v1/partitions/${id}/move`, Object.assign({ to }, opts)));
  }

  function confirmReadmit(name) {
    const row = state.rows.get(name);
    const st = row && row.node ? row.node.state : '';
    confirmAction(`Readmit ${name}?`,
      st === 'draining'
        ? `Readmit ${name}: stop its drain. It turns active again and keeps its place in the cluster.`
        : `Readmit ${name}: undo its failover. It turns active again without a restart and gets shards back (copies first).`,
      (opts) => api('POST', `/v1/nodes/${encodeURIComponent(name)}/readmit`, opts));
  }

  // ---- start -------------------------------------------------------------------

  function wire() {
    // With no token configured the API is open (loopback only): no login.
    $('#login').hidden = state.authMode !== 'token';
    $('#login').addEventListener('submit', (e) => {
      e.preventDefault();
      state.token = $('#token').value.trim();
      if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token); else sessionStorage.removeItem(TOKEN_KEY);
      $('#token').value = '';
      showTokenState();
      $('#login').classList.remove('needed');
      start();
    });
    $('#logout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = '';
      showTokenState();
      if (state.es) { state.es.close(); state.es = null; }
      if (state.authMode === 'token') askForToken();
    });
    $('#nodes').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-action]');
      if (!b) return;
      if (b.dataset.action === 'drain') confirmDrain(b.dataset.node);
      else if (b.dataset.action === 'failover') confirmFailover(b.dataset.node);
      else if (b.dataset.action === 'readmit') confirmReadmit(b.dataset.node);
    });
    $('#rebalance').addEventListener('click', confirmRebalance);
    $('#move-shard').addEventListener('click', confirmMove);
    $('#partition-map').addEventListener('click', (e) => {
      const c = e.target.closest('.cell');
      if (c) showShard(Number(c.dataset.shard));
    });
    $('#route-form').addEventListener('submit', (e) => {
      e.preventDefault();
      lookUpRoute($('#route-key').value.trim());
    });
    $('#confirm-ok').addEventListener('click', runPendingAction);
    $('#confirm-cancel').addEventListener('click', () => { state.pendingAction = null; state.pendingForce = null; $('#confirm').close(); });
    // The close event comes a task after close(): when the dialog was
    // opened again in between, the pending action is the new one's.
    $('#confirm').addEventListener('close', () => {
      if ($('#confirm').open) return;
      state.pendingAction = null;
      state.pendingForce = null;
    });
    window.addEventListener('resize', queueCharts);
    // A safety net when the stream is down: poll, so the page never freezes
    // on stale data without saying so.
    setInterval(() => {
      if (state.authMode === 'token' && !state.token) return;
      if (!state.es) start();
      else if (state.es.readyState !== EventSource.OPEN) scheduleRefresh();
    }, 10000);
  }

  function showTokenState() {
    $('#token').placeholder = state.token ? 'token set for this tab' : 'paste the --admin-token';
  }

  async function start() {
    if (state.authMode === 'token' && !state.token) { askForToken(); return; }
    try {
      await refreshNow();
      showBanner('');
      connectEvents();
    } catch (_) {
      // refreshNow already said why.
    }
  }

  // Exposed for the browser tests and for curious operators at the console.
  window.shardgate = { state, applyCluster, applyPartitions, nodeColour };

  wire();
  showTokenState();
  queueCharts();
  start();
})();
