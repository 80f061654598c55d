// One WebSocket to the server: requests with ids and their replies, pushes,
// heartbeats, and how the link ended. A Connection never reconnects: the
// session does, with backoff.

import { err, IMKitError } from "./errors";
import { Code, Close, Limits, Op, Push } from "./protocol";
import type { Frame, Kick } from "./protocol";

/** How a connection ended: the close code (1006 without a close frame) and a kick push, if one came. */
export interface Ended {
  code: number;
  kick: Kick | null;
}

/** A reply frame: its data (when the request succeeded). */
export interface Reply {
  data: unknown;
  frame: Frame;
}

interface Pending {
  resolve: (f: Frame) => void;
  reject: (e: IMKitError) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The link dropped under a request: the session sends it again on the next connection. */
export const disconnectedCode = Code.NetDisconnected;

export class Connection {
  /** Resolves when the connection has ended. */
  readonly ended: Promise<Ended>;
  /** Date.now() of the last frame received. */
  lastRecv = Date.now();

  private ws: WebSocket;
  private nextID = 0;
  private pending = new Map<number, Pending>();
  private kick: Kick | null = null;
  private done = false;
  private beat: ReturnType<typeof setInterval> | undefined;
  private resolveEnded!: (e: Ended) => void;

  private constructor(ws: WebSocket, private onPush: (op: string, data: unknown) => void) {
    this.ws = ws;
    this.ended = new Promise((r) => (this.resolveEnded = r));
    ws.onmessage = (ev: MessageEvent) => this.receive(ev.data);
    ws.onclose = (ev: CloseEvent) => this.finish(ev.code || 1006);
    ws.onerror = () => this.finish(1006);
  }

  /** open connects to url within timeoutMs: 9508 when the server cannot be reached, 9510 on timeout. */
  static open(url: string, timeoutMs: number, onPush: (op: string, data: unknown) => void): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url);
      } catch (e) {
        reject(err(Code.InvalidParameters, `bad server URL: ${String(e)}`));
        return;
      }
      const timer = setTimeout(() => {
        ws.onopen = ws.onclose = ws.onerror = null;
        ws.close();
        reject(err(Code.NetConnTimeout, "connect: timed out"));
      }, timeoutMs);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(new Connection(ws, onPush));
      };
      ws.onerror = ws.onclose = () => {
        clearTimeout(timer);
        ws.onopen = ws.onclose = ws.onerror = null;
        reject(err(Code.NetDisconnected, "connect: the server cannot be reached"));
      };
    });
  }

  get closed(): boolean {
    return this.done;
  }

  /**
   * request sends op and resolves with the reply. It rejects with the reply's
   * code, 9508 when the link drops first, 9520 after timeoutMs, 9522 for a
   * frame over the size limit.
   */
  request(op: string, data: unknown, timeoutMs: number): Promise<Reply> {
    if (this.done) return Promise.reject(err(disconnectedCode, "the connection to the server was lost"));
    const id = ++this.nextID;
    const frame: Frame = data === undefined ? { id, op } : { id, op, data };
    const text = JSON.stringify(frame);
    if (text.length > Limits.MaxFrameSize || new TextEncoder().encode(text).length > Limits.MaxFrameSize) {
      return Promise.reject(err(Code.NetPkgSizeLimit, `request is more than ${Limits.MaxFrameSize} bytes`));
    }
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(err(Code.NetWaitAckTimeout, `${op}: no reply in time`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.ws.send(text);
      } catch {
        this.finish(1006);
      }
    }).then((f) => {
      if (f.code) {
        const e = err(f.code, f.msg ?? `code ${f.code}`);
        e.wire = f.data;
        throw e;
      }
      return { data: f.data, frame: f };
    });
  }

  /** ping sends a heartbeat without waiting for its reply: any frame received is life. */
  ping(): void {
    if (this.done) return;
    try {
      this.ws.send(JSON.stringify({ id: ++this.nextID, op: Op.Ping }));
    } catch {
      this.finish(1006);
    }
  }

  /** heartbeat pings every intervalMs and closes a link silent for 2.5 intervals. */
  heartbeat(intervalMs: number): void {
    clearInterval(this.beat);
    this.beat = setInterval(() => {
      if (!this.alive(intervalMs)) {
        this.close();
        return;
      }
      this.ping();
    }, intervalMs);
  }

  /** alive reports whether a frame came within 2.5 heartbeat intervals. */
  alive(intervalMs: number): boolean {
    return Date.now() - this.lastRecv <= (intervalMs * 5) / 2;
  }

  /** close ends the connection at once (no close frame reaches the server's session as a logout). */
  close(): void {
    if (this.done) return;
    try {
      this.ws.close();
    } catch {
      // closing a socket that never opened
    }
    this.finish(1006);
  }

  private receive(raw: unknown): void {
    this.lastRecv = Date.now();
    if (typeof raw !== "string") return;
    let f: Frame;
    try {
      f = JSON.parse(raw) as Frame;
    } catch {
      return;
    }
    if (typeof f !== "object" || f === null) return;
    if (f.id && !f.op) {
      const p = this.pending.get(f.id);
      if (p) {
        this.pending.delete(f.id);
        clearTimeout(p.timer);
        p.resolve(f);
      }
      return;
    }
    if (!f.id && f.op) {
      if (f.op === Push.Kicked) {
        this.kick = (f.data as Kick | undefined) ?? { reason: 0, time: Date.now() };
        return;
      }
      this.onPush(f.op, f.data);
    }
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.beat);
    this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err(disconnectedCode, "the connection to the server was lost"));
    }
    this.pending.clear();
    this.resolveEnded({ code, kick: this.kick });
  }
}

/** reconnect reports whether a close code means "reconnect and resume" (protocol.Reconnect). */
export function reconnectable(code: number): boolean {
  if (code >= Close.ReconnectMin && code <= Close.ReconnectMax) return true;
  if (code >= Close.TerminalMin && code <= Close.TerminalMax) return false;
  return code === 1001 || code === 1006 || code === 1011 || code === 1012 || code === 1013 || code === 1014;
}

/** backoff is the wait before try number n (from 0): full jitter, random in [0, min(max, min·2^n)]. */
export function backoff(minMs: number, maxMs: number, n: number): number {
  const ceiling = Math.min(maxMs, minMs * Math.pow(2, Math.min(n, 30)));
  return Math.random() * ceiling;
}
