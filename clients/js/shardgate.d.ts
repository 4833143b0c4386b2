// Type declarations of the shardgate browser client (/v1/client.js).

/** An inbox message, delivered in seq order, once each. */
export interface Message {
  seq: number;
  from: string;
  data: unknown;
  /** Unix milliseconds when the home stored it. */
  ts: number;
  /** The sender's idempotency id, when it gave one. */
  id?: string;
}

/** A live topic message: never stored, at most once. */
export interface Publication {
  topic: string;
  from: string;
  data: unknown;
  ts: number;
}

/** The first frame of every connection. */
export interface Welcome {
  key: string;
  node: string;
  shard: number;
  last_seq: number;
  /** The oldest seq the inbox still keeps (retention). */
  first_seq: number;
  session: string;
}

/** A hint that the key's home is now elsewhere; the client follows it when idle. */
export interface MovedHint {
  url: string;
  reason: string;
}

export interface State {
  connected: boolean;
  node?: string;
  url?: string;
  welcome?: Welcome;
  /** The seq the connection resumed after (null: the stored ack cursor). */
  since?: number | null;
  /** Failed attempts since the last connection. */
  attempt?: number;
  /** Why the last connection ended or attempt failed. */
  error?: ShardgateError | null;
  /** The client has stopped for good (close, or a refusal). */
  stopped?: boolean;
}

export interface ClientOptions {
  /** Any nodes of the cluster (ws://, wss://, http:// or https://). Default: the origin this module was loaded from. */
  nodes?: string[];
  /** A client JWT (sent as ?token=, since browsers cannot set headers). */
  token?: string;
  /** Called before every connection for a fresh token; makes close 4001 retryable. */
  tokenProvider?: () => string | Promise<string>;
  /** The key, on a node in insecure mode (?user=KEY). */
  user?: string;
  /** The own key; default: user, or the token's sub claim. Without it the route look-up is skipped. */
  key?: string;
  /** Replay after this seq on the first connection; default: after the stored ack cursor. */
  since?: number;
  /** Messages that may wait for the handlers; beyond it they are read back with history. Default 1024. */
  buffer?: number;
  /** Backoff bounds in ms (exponential, full jitter). Defaults 100 and 10000. */
  minBackoff?: number;
  maxBackoff?: number;
  /** One attempt of a call, in ms. Default 10000. */
  callTimeout?: number;
  /** How long send (and the other retried calls) keep retrying, in ms. Default 60000. */
  sendTimeout?: number;
  /** A connection silent this long (ms) is probed with a call; no answer within callTimeout replaces it. Default 45000. */
  idleTimeout?: number;
  /** How long a moved hint waits for no call in flight, in ms. Default 5000. */
  movedDelay?: number;
  /** WebSocket and fetch implementations (for non-browser runtimes). */
  WebSocket?: typeof WebSocket;
  fetch?: typeof fetch;
}

export class ShardgateError extends Error {
  /** JSON-RPC error code, when the server answered one (1001 unauthorized, 1003 unavailable, …). */
  code: number;
  /** WebSocket close code, when a connection ended (4001 unauthorized, 4003 forbidden origin, …). */
  closeCode: number;
  /** Trying again may succeed. */
  retryable: boolean;
  /** The client stopped: retrying cannot fix it. */
  fatal: boolean;
}

export interface Stats {
  reconnects: number;
  connections: number;
  historyReads: number;
}

export class Client {
  constructor(options: ClientOptions);
  /** Starts the client; resolves with the welcome once connected, rejects on a refusal that retrying cannot fix. */
  connect(): Promise<Welcome>;
  /** Stops the client; pending calls reject. */
  close(): void;
  /** Message handlers run in seq order; a returned Promise delays the next message. */
  on(event: "message", fn: (m: Message) => void | Promise<void>): () => void;
  on(event: "publication", fn: (p: Publication) => void): () => void;
  on(event: "state", fn: (s: State) => void): () => void;
  on(event: "moved", fn: (h: MovedHint) => void): () => void;
  on(event: "error", fn: (e: ShardgateError) => void): () => void;
  /** Stores data in to's inbox; resolves once durable. Retried with the same id across reconnects. */
  send(to: string, data: unknown, options?: { id?: string; timeout?: number }): Promise<{ to: string; seq: number }>;
  history(since: number, limit?: number): Promise<{ messages: Message[]; last_seq: number; first_seq: number }>;
  ack(seq: number): Promise<{}>;
  subscribe(topic: string): Promise<{}>;
  unsubscribe(topic: string): Promise<{}>;
  /** At most once: not retried after a lost connection. */
  publish(topic: string, data: unknown): Promise<{ delivered_nodes: number }>;
  presence(keys: string[]): Promise<Record<string, { online: boolean; connections: number }>>;
  /** The highest seq handed to the message handlers. */
  readonly lastSeq: number;
  /** The welcome of the current (or last) connection. */
  readonly welcome: Welcome | null;
  readonly stats: Stats;
}

export function wsURL(node: string): string;
export function decodeFrame(text: string): object[];
