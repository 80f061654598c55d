// A session is one login of a user on this instance (tab): it spans
// reconnects until logout, a kick or expiry. It keeps the live connection,
// reconnects with capped full-jitter backoff and resumes (never logs in
// afresh), renews tickets on the same connection, and tells the chat how it
// ended. docs/lifecycle.md is the state machine.

import type { NetState } from "./api";
import { backoff, Connection, disconnectedCode, reconnectable } from "./connection";
import { codeOf, err, messageOf } from "./errors";
import { Close, Code, Op, Push } from "./protocol";
import type { Kick, LoginReply, LoginRequest, RenewReply } from "./protocol";

export const sdkVersion = "0.1.0";

export interface SessionConfig {
  url: string;
  appID: number;
  instanceID: string;
  userSigProvider?: (userID: string) => Promise<string>;
  heartbeatMs?: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  timeoutMs: number;
}

/** How a session ended without the app asking. */
export type Ending = "kicked" | "expired" | "refused";

/** What a session tells its chat; calls from a session that is not current are ignored there. */
export interface SessionHooks {
  netState(state: NetState): void;
  /** The session is on a new connection (login or resume): sync. */
  attached(conn: Connection, reply: LoginReply): void;
  push(op: string, data: unknown): void;
  ended(how: Ending, kick: Kick | null, code: number, message: string): void;
}

/** The margin before its expiry at which a ticket is replaced before a resume. */
const ticketMarginMs = 2000;

export class Session {
  conn: Connection | null = null;
  private sessionID = "";
  private expireAt = 0; // when the ticket runs out, by this machine's clock (ms)
  private skew = 0; // the server's clock minus this machine's (ms)
  private beat = 30000;
  private stopped = false;
  private renewing = false;
  private waiters: Array<() => void> = [];
  private wake: (() => void) | null = null;
  private nudged = false; // a nudge came while a reconnect try was running: the next try does not wait

  constructor(
    private cfg: SessionConfig,
    readonly userID: string,
    private sig: string,
    private hooks: SessionHooks,
  ) {}

  get ended(): boolean {
    return this.stopped;
  }

  /** dialLogin connects and logs in, or resumes sessionID when it is set. */
  async dialLogin(sessionID: string, timeoutMs: number): Promise<[Connection, LoginReply]> {
    const c = await Connection.open(this.cfg.url, timeoutMs, (op, data) => this.onPush(op, data));
    const req: LoginRequest = {
      sdkAppID: this.cfg.appID,
      userID: this.userID,
      userSig: this.sig,
      platform: "Web",
      instanceID: this.cfg.instanceID,
      sdkVersion: sdkVersion,
    };
    if (sessionID) req.sessionID = sessionID;
    try {
      const r = await c.request(Op.Login, req, timeoutMs);
      return [c, r.data as LoginReply];
    } catch (e) {
      c.close();
      throw e;
    }
  }

  /** start runs a logged-in session on its first connection. */
  start(c: Connection, reply: LoginReply): void {
    this.attach(c, reply);
    void this.run(c);
  }

  private attach(c: Connection, reply: LoginReply): void {
    this.sessionID = reply.sessionID;
    this.conn = c;
    this.beat = this.cfg.heartbeatMs ?? (reply.heartbeat > 0 ? reply.heartbeat : 30000);
    if (reply.serverTime) this.skew = reply.serverTime - Date.now();
    this.setExpire(reply.ticketExpire);
    c.heartbeat(this.beat);
    this.notify();
    this.hooks.netState("connected");
    this.hooks.attached(c, reply);
  }

  /** setExpire records the ticket's expiry, given in Unix seconds (valid through that second). */
  private setExpire(unix: number): void {
    if (unix) this.expireAt = (unix + 1) * 1000 - this.skew;
  }

  /** run watches the live connection; when it drops, it resumes, or ends the session. */
  private async run(c: Connection): Promise<void> {
    for (;;) {
      const { code, kick } = await c.ended;
      this.conn = null;
      this.notify();
      if (this.stopped) return;
      if (code === Close.Kicked || kick) {
        // A kick whose close frame the dying link lost is a kick all the same.
        this.end("kicked", kick, Code.KickedOffByOther, "kicked offline");
        return;
      }
      if (code === Close.TicketExpired) {
        this.end("expired", null, Code.UserSigExpired, "ticket expired");
        return;
      }
      if (!reconnectable(code)) {
        this.end("refused", null, Code.NetDisconnected, `the server closed the connection (${code})`);
        return;
      }
      this.hooks.netState("connecting");
      this.nudged = false;
      const next = await this.reconnect();
      if (!next) return;
      c = next;
    }
  }

  /** reconnect resumes the session with backoff until it works (the new connection) or ends (null). */
  private async reconnect(): Promise<Connection | null> {
    for (let n = 0; ; n++) {
      await this.sleep(backoff(this.cfg.reconnectMinMs, this.cfg.reconnectMaxMs, n));
      if (this.stopped) return null;
      await this.freshTicket();
      try {
        const [c, reply] = await this.dialLogin(this.sessionID, this.cfg.timeoutMs);
        if (this.stopped) {
          c.close();
          return null;
        }
        this.attach(c, reply);
        return c;
      } catch (e) {
        if (this.stopped) return null;
        const code = codeOf(e);
        const how = refusal(code);
        if (how) {
          let kick: Kick | null = null;
          if (code === Code.KickedOffByOther) kick = (e as { wire?: Kick }).wire ?? null;
          if (code === Code.SvrInvalidUserSig) kick = { reason: 3, time: Date.now() };
          this.end(how, kick, code, messageOf(e));
          return null;
        }
      }
    }
  }

  /** sleep waits ms, or less when nudge wakes it (or woke the try before it). */
  private sleep(ms: number): Promise<void> {
    if (this.nudged) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        if (self.wake === done) self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * nudge is called when the browser comes back online or the tab becomes
   * visible: a reconnect waiting out its backoff tries now, and a live link
   * is checked (closed when silent too long, so that it is replaced).
   */
  nudge(): void {
    if (this.stopped) return;
    const c = this.conn;
    if (c && !c.closed) {
      if (!c.alive(this.beat)) c.close();
      else c.ping();
      return;
    }
    if (this.wake) this.wake();
    else this.nudged = true; // a try is running: if it fails, try again at once
  }

  /** freshTicket asks the provider for a new ticket when the current one ran out while away. */
  private async freshTicket(): Promise<void> {
    const p = this.cfg.userSigProvider;
    if (!p || !this.expireAt || this.expireAt - Date.now() > ticketMarginMs) return;
    try {
      const sig = await p(this.userID);
      if (typeof sig === "string" && sig) this.sig = sig;
    } catch {
      // resume with the old ticket; the server says what it thinks of it
    }
  }

  /** waitConn returns the live connection, waiting while reconnecting, until deadline (9520) or the end (6014). */
  private async waitConn(deadline: number): Promise<Connection> {
    for (;;) {
      if (this.stopped) throw err(Code.SDKNotLoggedIn, "not logged in");
      const c = this.conn;
      if (c && !c.closed) return c;
      const left = deadline - Date.now();
      if (left <= 0) throw err(Code.NetWaitAckTimeout, "no connection to the server in time");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * call sends a request on the live connection and resolves with the reply's
   * data. While reconnecting it waits (up to timeoutMs); a request the link
   * dropped under is sent again on the next connection (every request is
   * idempotent).
   */
  async call(op: string, data: unknown, timeoutMs = this.cfg.timeoutMs): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await this.waitConn(deadline);
      try {
        return (await c.request(op, data, Math.max(1, deadline - Date.now()))).data;
      } catch (e) {
        if (codeOf(e) !== disconnectedCode) throw e;
        if (this.stopped) throw err(Code.SDKNotLoggedIn, "not logged in");
      }
    }
  }

  private onPush(op: string, data: unknown): void {
    if (this.stopped) return;
    if (op === Push.Expiring) {
      void this.renew();
      return;
    }
    this.hooks.push(op, data);
  }

  /** renew asks the provider for a new ticket and hands it over on the live connection. */
  private async renew(): Promise<void> {
    const p = this.cfg.userSigProvider;
    if (!p || this.renewing) return;
    this.renewing = true;
    try {
      const sig = await p(this.userID);
      if (typeof sig !== "string" || !sig || sig === this.sig) return; // the session ends at expiry
      const r = (await this.call(Op.Renew, { userSig: sig })) as RenewReply;
      this.sig = sig;
      this.setExpire(r.ticketExpire);
    } catch {
      // refused or failed: the session ends at expiry, and the app is told then
    } finally {
      this.renewing = false;
    }
  }

  /** logout ends the session on the server (best effort, bounded) and here. */
  async logout(timeoutMs = 5000): Promise<void> {
    if (this.stopped && !this.conn) return;
    this.stopped = true;
    this.wake?.();
    this.notify();
    const c = this.conn;
    if (c && !c.closed) {
      try {
        await c.request(Op.Logout, undefined, timeoutMs);
      } catch {
        // refused (the session had ended) or out of time
      }
      c.close();
      return;
    }
    if (!this.sessionID) return;
    // Reconnecting: resume just long enough to log out.
    try {
      const [c2] = await this.dialLogin(this.sessionID, timeoutMs);
      await this.logoutOn(c2, timeoutMs);
    } catch {
      // the server ends the session when its ticket runs out
    }
  }

  /** logoutOn logs out on a connection of a login that was abandoned. */
  async logoutOn(c: Connection, timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    try {
      await c.request(Op.Logout, undefined, timeoutMs);
    } catch {
      // nothing more to do
    }
    c.close();
  }

  /** stop ends the session here without telling the server. */
  stop(): void {
    this.stopped = true;
    this.conn?.close();
    this.wake?.();
    this.notify();
  }

  private end(how: Ending, kick: Kick | null, code: number, message: string): void {
    if (this.stopped) return;
    this.stop();
    this.hooks.ended(how, kick, code, message);
  }
}

/**
 * refusal says whether a refused resume ends the session, and how: kicked
 * (6208; 70052, tickets revoked by an admin), expired (the ticket no longer
 * opens the session), refused otherwise. Network errors, timeouts, lockouts
 * (70050) and internal errors are worth another try: null.
 */
function refusal(code: number): Ending | null {
  switch (code) {
    case Code.KickedOffByOther:
    case Code.SvrInvalidUserSig:
      return "kicked";
    case Code.SvrUserSigExpired:
    case Code.UserSigExpired:
    case Code.SvrUserSigEmpty:
    case Code.SvrUserSigCheckFailed:
    case Code.SvrUserSigMismatchKey:
    case Code.SvrUserSigMismatchID:
    case Code.SvrUserSigMismatchApp:
      return "expired";
    case Code.SvrSDKAppIDNotFound:
    case Code.SvrInvalidParameters:
    case Code.SDKNotLoggedIn:
      return "refused";
  }
  return null;
}
