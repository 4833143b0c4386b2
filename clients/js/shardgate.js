// shardgate browser client: an ES module with no dependencies.
//
// A Client keeps one key connected to a shardgate cluster: it asks a node
// where the key lives and connects there (any node when the home cannot be
// reached: nodes forward), reconnects with exponential backoff and full
// jitter, resumes the inbox after the last seq it received, follows moved
// hints when no call is under way, resubscribes its topics and retries
// sends with the same idempotency id. Message handlers see every stored
// message once, in seq order, across reconnects.
//
// Served by every node at /v1/client.js (types at /v1/client.d.ts):
//   import { Client } from "http://node:8080/v1/client.js";
//   const c = new Client({ user: "alice" });   // nodes default to the module's origin
//   c.on("message", (m) => console.log(m.seq, m.from, m.data));
//   await c.connect();
//   await c.send("bob", { text: "hi" });
//
// The protocol is described in docs/PROTOCOL.md.

const CODE_UNAUTHORIZED = 1001;
const CODE_RATE_LIMITED = 1002;
const CODE_UNAVAILABLE = 1003;
const CLOSE_UNAUTHORIZED = 4001;
const CLOSE_FORBIDDEN = 4003;

/** An error of a call or of the connection. */
export class ShardgateError extends Error {
  constructor(message, { code = 0, closeCode = 0, retryable = false, fatal = false } = {}) {
    super(message);
    this.name = "ShardgateError";
    this.code = code; // JSON-RPC error code, when the server answered one
    this.closeCode = closeCode; // WebSocket close code, when a connection ended
    this.retryable = retryable; // trying again may succeed
    this.fatal = fatal; // the client stopped: retrying cannot fix it
  }
}

const defaults = {
  buffer: 1024,
  minBackoff: 100,
  maxBackoff: 10000,
  callTimeout: 10000,
  sendTimeout: 60000,
  movedDelay: 5000,
  idleTimeout: 45000,
};

function moduleOrigin() {
  try {
    return new URL(import.meta.url).origin;
  } catch {
    return "";
  }
}

/** wsURL turns a node address (ws, wss, http or https, with or without /v1/ws) into its endpoint. */
export function wsURL(node) {
  const u = new URL(node);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new ShardgateError(`node address ${node}: scheme must be ws, wss, http or https`);
  u.pathname = u.pathname.replace(/\/$/, "").replace(/\/v1\/ws$/, "") + "/v1/ws";
  u.search = "";
  u.hash = "";
  return u.toString();
}

function httpURL(ws) {
  const u = new URL(ws);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = u.pathname.replace(/\/v1\/ws$/, "");
  u.search = "";
  return u.toString().replace(/\/$/, "");
}

function tokenSubject(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "===".slice((part.length + 3) % 4))).sub || "";
  } catch {
    return "";
  }
}

function randomID() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// sleep waits ms, or until signal aborts. Its abort listener goes with
// the timer: one left behind per sleep would pile up on a long-lived
// client's signal.
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const onAbort = () => { clearTimeout(t); resolve(); };
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

// closed resolves once conn has closed, or after ms.
async function closed(conn, ms) {
  const end = Date.now() + ms;
  while (!conn.closed && Date.now() < end) await sleep(20);
}

/** decodeFrame reads one server frame: an object, or a batch (an array of objects). */
export function decodeFrame(text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  return (Array.isArray(v) ? v : [v]).filter((x) => x && typeof x === "object");
}

/** Conn is one WebSocket connection: calls with ids, notifications to a callback. */
class Conn {
  constructor(ws, onNotify, onClose) {
    this.ws = ws;
    this.nextID = 0;
    this.calls = new Map();
    this.closed = false;
    this.closeCode = 0;
    this.closeReason = "";
    this.welcome = null;
    this.lastFrame = Date.now();
    ws.onmessage = (ev) => {
      this.lastFrame = Date.now();
      for (const f of decodeFrame(ev.data)) {
        if (f.method) onNotify(this, f);
        else this.resolve(f);
      }
    };
    ws.onclose = (ev) => {
      this.closed = true;
      this.closeCode = ev.code;
      this.closeReason = ev.reason;
      const err = new ShardgateError(`connection closed (${ev.code}${ev.reason ? ": " + ev.reason : ""})`, { closeCode: ev.code, retryable: true });
      for (const { reject } of this.calls.values()) reject(err);
      this.calls.clear();
      onClose(this, ev);
    };
  }

  resolve(f) {
    const call = this.calls.get(f.id);
    if (!call) return;
    this.calls.delete(f.id);
    if (f.error) {
      const code = f.error.code;
      call.reject(new ShardgateError(f.error.message, { code, retryable: code === CODE_UNAVAILABLE || code === CODE_RATE_LIMITED }));
    } else call.resolve(f.result);
  }

  call(method, params, timeout) {
    if (this.closed) return Promise.reject(new ShardgateError("connection closed", { closeCode: this.closeCode, retryable: true }));
    const id = ++this.nextID;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.calls.delete(id);
        reject(new ShardgateError(`${method}: no answer within ${timeout} ms`, { retryable: true }));
        this.close(4000, "call timed out"); // an unanswered connection is not to be trusted
      }, timeout);
      this.calls.set(id, {
        resolve: (v) => { clearTimeout(t); resolve(v); },
        reject: (e) => { clearTimeout(t); reject(e); },
      });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  close(code = 1000, reason = "") {
    if (!this.closed) {
      try { this.ws.close(code, reason); } catch { this.ws.close(); }
    }
  }
}

/** Client keeps one key connected; see the module comment. */
export class Client {
  constructor(options = {}) {
    this.opts = { ...defaults, ...options };
    const o = this.opts;
    const auth = [o.token, o.tokenProvider, o.user].filter((x) => x).length;
    if (auth !== 1) throw new ShardgateError("set exactly one of token, tokenProvider and user");
    o.nodes = (o.nodes && o.nodes.length ? o.nodes : [moduleOrigin()]).map(wsURL);
    o.key = o.key || o.user || (o.token ? tokenSubject(o.token) : "");
    this.WebSocket = o.WebSocket || globalThis.WebSocket;
    this.fetch = o.fetch || globalThis.fetch?.bind(globalThis);
    this.handlers = { message: [], publication: [], state: [], moved: [], error: [] };
    this.topics = new Set();
    this.conn = null;
    this.waiters = [];
    this.inflight = 0;
    this.stopped = null; // the error that stopped the client, or "closed"
    this.abort = new AbortController();
    this.stats = { reconnects: 0, connections: 0, historyReads: 0 };
    this.welcome = null;
    // The inbox: messages in seq order, once each, bounded by opts.buffer.
    this.queue = [];
    this.last = o.since ?? null; // highest seq queued (null: none yet)
    this.handed = o.since ?? 0; // highest seq handed to the handlers
    this.highest = 0;
    this.behind = false;
    this.filling = false;
    this.dispatching = false;
    this.moved = null;
  }

  /** on registers a handler: "message" (may return a Promise: the next waits for it), "publication", "state", "moved", "error". */
  on(event, fn) {
    this.handlers[event].push(fn);
    return () => { this.handlers[event] = this.handlers[event].filter((h) => h !== fn); };
  }

  emit(event, value) {
    for (const fn of this.handlers[event]) {
      try { fn(value); } catch (e) { console.error("shardgate handler", e); }
    }
  }

  /** lastSeq is the highest seq handed to the message handlers. */
  get lastSeq() { return this.handed; }

  /** connect starts the client and resolves with the welcome once it is connected; it rejects if the node refuses for good. */
  async connect() {
    if (!this.running) {
      this.running = true;
      this.run();
    }
    return (await this.current()).welcome;
  }

  /** close stops the client; pending calls reject. */
  close() {
    if (!this.stopped) this.stop("closed");
  }

  stop(reason) {
    this.stopped = reason;
    this.abort.abort();
    if (this.conn) this.conn.close(1000, "");
    this.conn = null;
    const err = reason === "closed" ? new ShardgateError("client closed") : reason;
    for (const w of this.waiters.splice(0)) w.reject(err);
    if (reason !== "closed") this.emit("error", reason);
    this.emit("state", { connected: false, stopped: true, error: reason === "closed" ? null : reason });
  }

  current() {
    if (this.stopped) return Promise.reject(this.stopped === "closed" ? new ShardgateError("client closed") : this.stopped);
    if (this.conn) return Promise.resolve(this.conn);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  backoff(attempt) {
    const bound = Math.min(this.opts.maxBackoff, this.opts.minBackoff * 2 ** (attempt - 1));
    return Math.random() * bound;
  }

  async run() {
    let attempt = 0;
    let target = null;
    while (!this.stopped) {
      let conn;
      try {
        conn = await this.connectOnce(target);
      } catch (err) {
        target = null;
        if (err.fatal) return this.stop(err);
        attempt++;
        this.emit("state", { connected: false, attempt, error: err });
        await sleep(this.backoff(attempt), this.abort.signal);
        continue;
      }
      target = null;
      if (this.stopped) { conn.close(1000, ""); return; } // closed while dialling
      const started = Date.now();
      const ended = await this.serve(conn);
      if (this.stopped) return;
      if (ended.error?.fatal) return this.stop(ended.error);
      if (Date.now() - started > this.opts.maxBackoff) attempt = 0;
      attempt++;
      this.emit("state", { connected: false, attempt, error: ended.error });
      if (!ended.hint) await sleep(this.backoff(attempt), this.abort.signal);
      target = ended.hint;
    }
  }

  // serve runs one connection until it ends ({error, fatal, hint}) or a
  // moved hint has been followed (then it serves the new connection).
  async serve(conn) {
    this.stats.connections++;
    if (this.stats.connections > 1) this.stats.reconnects++;
    this.conn = conn;
    this.welcome = conn.welcome;
    for (const w of this.waiters.splice(0)) w.resolve(conn);
    this.emit("state", { connected: true, node: conn.welcome.node, url: conn.url, welcome: conn.welcome, since: conn.since });
    this.fill(); // still behind from the last connection: read on with this one
    const r = await new Promise((resolve) => {
      let movedAt = 0;
      let following = false;
      let probing = false;
      const tick = setInterval(async () => {
        // Browsers answer the node's pings without telling the page, so a
        // connection silent for idleTimeout is probed with a cheap call;
        // an unanswered call closes it (see Conn.call) and the client
        // reconnects: a node that vanished without closing is noticed.
        if (!probing && !conn.closed && Date.now() - conn.lastFrame > this.opts.idleTimeout) {
          probing = true;
          conn.call("presence", { keys: [conn.welcome.key] }, this.opts.callTimeout).catch(() => {}).finally(() => { probing = false; });
        }
        if (!this.moved || this.stopped || following) return;
        movedAt ||= Date.now();
        if (this.inflight > 0 && Date.now() - movedAt < this.opts.movedDelay) return;
        const url = this.moved;
        this.moved = null;
        movedAt = 0;
        following = true;
        try {
          const next = await this.dial(url); // make before break: the inbox drops doubles
          if (conn.closed) { next.close(); return; } // ended meanwhile: onEnd has resolved
          clearInterval(tick);
          conn.onEnd = null;
          conn.close(1000, "moved");
          resolve({ next });
        } catch (err) {
          this.emit("error", err);
        } finally {
          following = false;
        }
      }, 50);
      conn.onEnd = () => {
        clearInterval(tick);
        const hint = this.moved;
        this.moved = null;
        resolve({ error: closeError(conn, !!this.opts.tokenProvider), hint });
      };
    });
    if (this.conn === conn) this.conn = null;
    if (r.next) {
      if (this.stopped) { r.next.close(); return {}; }
      return this.serve(r.next);
    }
    return r;
  }

  // connectOnce opens a connection: to target when given, else to the key's
  // home as a node names it, else to that node itself; nodes in turn from a random one.
  async connectOnce(target) {
    if (target) {
      try { return await this.dial(target); } catch (err) { if (err.fatal) throw err; }
    }
    const nodes = this.opts.nodes;
    const start = Math.floor(Math.random() * nodes.length);
    let last;
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[(start + i) % nodes.length];
      if (this.opts.key && this.fetch) {
        const home = await this.route(node).catch(() => null);
        if (home && home !== node) {
          try { return await this.dial(home); } catch (err) { if (err.fatal) throw err; last = err; }
        }
      }
      try { return await this.dial(node); } catch (err) { if (err.fatal) throw err; last = err; }
    }
    throw last || new ShardgateError("no node to connect to", { retryable: true });
  }

  async route(node) {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), this.opts.callTimeout);
    try {
      const r = await this.fetch(`${httpURL(node)}/v1/route?key=${encodeURIComponent(this.opts.key)}`, { signal: ctl.signal });
      if (!r.ok) return null;
      return (await r.json()).ws_url || null;
    } finally {
      clearTimeout(t);
    }
  }

  // dial opens one connection to url, resuming after the last queued seq,
  // and resolves after its welcome and the resubscriptions.
  async dial(url) {
    const u = new URL(url);
    if (this.opts.user) u.searchParams.set("user", this.opts.user);
    const token = this.opts.tokenProvider ? await this.opts.tokenProvider() : this.opts.token;
    if (token) u.searchParams.set("token", token);
    if (this.last !== null) u.searchParams.set("since", String(this.last));
    const conn = await new Promise((resolve, reject) => {
      const ws = new this.WebSocket(u.toString());
      let welcomed = false;
      // A connection without a welcome in time is given up here, not on
      // its close event: some WebSocket implementations (Node 20's) fire
      // none for a connection that was never opened.
      const timer = setTimeout(() => {
        c.close(4000, "no welcome");
        if (!welcomed) reject(new ShardgateError(`${url}: no welcome within ${this.opts.callTimeout} ms`, { retryable: true }));
      }, this.opts.callTimeout);
      const c = new Conn(ws, (cn, f) => {
        if (!welcomed && f.method === "welcome") {
          welcomed = true;
          clearTimeout(timer);
          cn.welcome = f.params;
          resolve(cn);
          return;
        }
        this.notify(cn, f);
      }, (cn) => {
        clearTimeout(timer);
        if (!welcomed) reject(closeError(cn, !!this.opts.tokenProvider));
        else cn.onEnd?.();
      });
      c.url = url;
      c.since = this.last;
    });
    try {
      for (const topic of [...this.topics]) {
        // A node that is busy or rate-limits the burst of subscriptions
        // gets a few more tries on this connection: failing it would
        // only start the burst again on the next one.
        for (let attempt = 1; ; attempt++) {
          try {
            await conn.call("subscribe", { topic }, this.opts.callTimeout);
            break;
          } catch (err) {
            if (err.code && !err.retryable) { this.topics.delete(topic); this.emit("error", err); break; }
            if (!err.code || attempt >= 5 || this.stopped) throw err;
            await sleep(this.backoff(attempt), this.abort.signal);
          }
        }
      }
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  notify(conn, f) {
    switch (f.method) {
      case "message": return this.offer(f.params);
      case "publication":
        return this.emit("publication", f.params);
      case "moved":
        this.emit("moved", f.params);
        if (f.params?.url && conn === this.conn) this.moved = f.params.url;
    }
  }

  // offer takes one live message; it never waits. A full buffer or a gap
  // makes the inbox "behind": fill reads the rest with history calls.
  offer(m) {
    if (this.last !== null && m.seq <= this.last) return;
    this.highest = Math.max(this.highest, m.seq);
    if (this.behind) return;
    if ((this.last !== null && m.seq !== this.last + 1) || this.queue.length >= this.opts.buffer) {
      this.behind = true;
      this.fill();
      return;
    }
    this.push(m);
  }

  push(m) {
    this.queue.push(m);
    this.last = m.seq;
    this.dispatch();
  }

  async fill() {
    if (this.filling) return;
    this.filling = true;
    try {
      while (this.behind && !this.stopped && this.conn) {
        const room = this.opts.buffer - this.queue.length;
        if (room <= 0) return; // dispatch calls fill again when it makes room
        let h;
        try {
          this.stats.historyReads++;
          h = await this.conn.call("history", { since: this.last ?? 0, limit: Math.min(room, 500) }, this.opts.callTimeout);
        } catch (err) {
          if (!err.retryable) return;
          await sleep(100, this.abort.signal);
          continue;
        }
        for (const m of h.messages || []) {
          if ((this.last === null || m.seq > this.last) && this.queue.length < this.opts.buffer) this.push(m);
        }
        const caught = (this.last ?? 0) >= this.highest && ((h.messages || []).length === 0 || (this.last ?? 0) >= h.last_seq);
        if (caught) this.behind = false;
        else if ((h.messages || []).length === 0) await sleep(100, this.abort.signal);
      }
    } finally {
      this.filling = false;
    }
  }

  async dispatch() {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const m = this.queue.shift();
        if (this.behind) this.fill();
        this.handed = m.seq;
        for (const fn of this.handlers.message) {
          try { await fn(m); } catch (e) { console.error("shardgate message handler", e); }
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  // call runs one request on the current connection; with retry, failures
  // that may succeed later are tried again until the deadline.
  async call(method, params, { retry = true, timeout = this.opts.sendTimeout } = {}) {
    const deadline = Date.now() + timeout;
    this.inflight++;
    try {
      for (let attempt = 1; ; attempt++) {
        const conn = await withTimeout(this.current(), deadline - Date.now(), method);
        try {
          return await conn.call(method, params, Math.min(this.opts.callTimeout, Math.max(1, deadline - Date.now())));
        } catch (err) {
          if (retry && !this.stopped && Date.now() < deadline && this.tokenExpired(err)) {
            // The node closes the connection (4001) after this answer; the
            // next one has a fresh token from tokenProvider.
            await closed(conn, Math.min(2000, deadline - Date.now()));
            continue;
          }
          if (!retry || !err.retryable || this.stopped || Date.now() >= deadline) throw err;
          if (err.code) await sleep(Math.min(this.backoff(attempt), deadline - Date.now()), this.abort.signal);
        }
      }
    } finally {
      this.inflight--;
    }
  }

  // tokenExpired says err refused a call because the connection's token
  // expired, when tokenProvider can give a new one.
  tokenExpired(err) {
    return !!this.opts.tokenProvider && err.code === CODE_UNAUTHORIZED && /^token expired/.test(err.message);
  }

  /** send stores data in to's inbox; resolves {to, seq} once durable. Retried with the same id. */
  send(to, data, { id = randomID(), timeout } = {}) {
    return this.call("send", { to, data, id }, { timeout });
  }
  history(since, limit) { return this.call("history", limit ? { since, limit } : { since }); }
  ack(seq) { return this.call("ack", { seq }); }
  async subscribe(topic) {
    this.topics.add(topic);
    try {
      return await this.call("subscribe", { topic });
    } catch (err) {
      this.topics.delete(topic);
      throw err;
    }
  }
  unsubscribe(topic) {
    this.topics.delete(topic);
    return this.call("unsubscribe", { topic });
  }
  publish(topic, data) { return this.call("publish", { topic, data }, { retry: false }); }
  presence(keys) { return this.call("presence", { keys }); }
}

function withTimeout(p, ms, what) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new ShardgateError(`${what}: no connection within the timeout`, { retryable: true })), Math.max(0, ms));
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

// closeError says how a connection ended; 4001 and 4003 stop the client
// (a tokenProvider makes 4001 retryable: the next connection gets a new token).
function closeError(conn, canRenewToken) {
  const code = conn.closeCode;
  const reason = conn.closeReason;
  if (code === CLOSE_UNAUTHORIZED) return new ShardgateError(`unauthorized: ${reason}`, { closeCode: code, fatal: !canRenewToken, retryable: canRenewToken });
  if (code === CLOSE_FORBIDDEN) return new ShardgateError(`forbidden: ${reason}`, { closeCode: code, fatal: true });
  const text = code === 1006 ? "connection failed or lost (node down or unreachable)" : `connection closed (${code}${reason ? ": " + reason : ""})`;
  return new ShardgateError(text, { closeCode: code, retryable: true });
}
