// The public face: a Chat shaped like Tencent's TencentCloudChat instance.
// It keeps the login status, the user's mailbox position and conversation
// list (cached in IndexedDB), and turns wire messages into Tencent-shaped
// ones.

import type {
  Chat,
  ChatEvent,
  Conversation,
  CreateCustomMessageOptions,
  CreateOptions,
  CreateTextMessageOptions,
  CustomPayload,
  EventData,
  EventName,
  EventTypes,
  GetMessageListOptions,
  KickedOutType,
  LastMessage,
  Listener,
  LoginOptions,
  LoginStatus,
  Message,
  NetState,
  Response,
  SendMessageOptions,
  TextPayload,
  TypeConstants,
} from "./api";
import { Cache } from "./cache";
import type { Connection } from "./connection";
import { Emitter } from "./emitter";
import { codeOf, err, IMKitError, validUserID } from "./errors";
import { Code, ElemType, KickReason, Limits, Op, Push } from "./protocol";
import type {
  ConvDel,
  ConvListReply,
  ConvRead,
  Conversation as WireConversation,
  Elem,
  HistoryReply,
  Kick,
  LoginReply,
  Message as WireMessage,
  SendReply,
  SyncReply,
} from "./protocol";
import { sdkVersion, Session } from "./session";
import type { Ending } from "./session";

export const EVENT: EventTypes = {
  SDK_READY: "sdkStateReady",
  SDK_NOT_READY: "sdkStateNotReady",
  KICKED_OUT: "kickedOut",
  NET_STATE_CHANGE: "netStateChange",
  MESSAGE_RECEIVED: "onMessageReceived",
  CONVERSATION_LIST_UPDATED: "onConversationListUpdated",
  ERROR: "error",
};

export const TYPES: TypeConstants = {
  CONV_C2C: "C2C",
  MSG_TEXT: "TIMTextElem",
  MSG_CUSTOM: "TIMCustomElem",
  KICKED_OUT_MULT_ACCOUNT: "multipleAccount",
  KICKED_OUT_MULT_DEVICE: "multipleDevice",
  KICKED_OUT_USERSIG_EXPIRED: "userSigExpired",
  KICKED_OUT_REST_API: "REST_API_Kick",
  NET_STATE_CONNECTED: "connected",
  NET_STATE_CONNECTING: "connecting",
  NET_STATE_DISCONNECTED: "disconnected",
  MSG_STATUS_UNSEND: "unSend",
  MSG_STATUS_SUCCESS: "success",
  MSG_STATUS_FAIL: "fail",
};

export const VERSION = sdkVersion;

type Events = { [K in EventName]: ChatEvent<K> };

/** A Login in progress. */
interface Attempt {
  abort: (code: number) => void;
  aborted: Promise<never>;
  code: number;
}

const LOGINED: LoginStatus = 1;
const LOGINING: LoginStatus = 2;
const LOGOUT: LoginStatus = 3;

export class ChatImpl implements Chat {
  private ev = new Emitter<Events>();
  private appID: number;
  private url: string;
  private opts: CreateOptions;
  private instanceID: string;
  private timeoutMs: number;
  private destroyed = false;
  private status: LoginStatus = LOGOUT;
  private attempt: Attempt | null = null;
  private session: Session | null = null;
  private user = "";
  private net: NetState = "disconnected";
  // Logins of this app in other tabs of this browser (same origin), by
  // user: when, by this machine's clock. A kick by another Web instance is
  // MULT_ACCOUNT when it was such a tab, MULT_DEVICE otherwise.
  private siblings = new Map<string, number>();
  private channel: BroadcastChannel | null = null;
  private nudge = (): void => {
    if (typeof document !== "undefined" && document.visibilityState === "hidden") return;
    this.session?.nudge();
  };

  // The cache of the user logged in or logging in, and what it holds.
  private cache: Promise<Cache> | null = null;
  private cacheUser = "";
  private convs = new Map<string, WireConversation>();
  private synced = 0; // the mailbox seq up to which every message was received
  private hasCursor = false; // the cache had synced before: not a new device
  private above = new Set<number>(); // seqs received beyond synced
  private convSynced = false;
  private dirty = new Set<string>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private syncing: Promise<void> = Promise.resolve();

  private sending = new Set<string>(); // client message IDs this instance is sending
  private convSeqs = new Map<string, number>(); // message ID -> convSeq of the pages getMessageList gave, for its paging

  constructor(opts: CreateOptions) {
    if (!opts || typeof opts !== "object") throw err(Code.InvalidParameters, "create: options are required");
    if (typeof opts.SDKAppID !== "number" || !(opts.SDKAppID > 0)) {
      throw err(Code.InvalidParameters, "create: SDKAppID must be a positive number");
    }
    this.opts = opts;
    this.appID = opts.SDKAppID;
    this.url = wsURL(opts.serverURL);
    this.instanceID = opts.instanceID ?? randomHex(12);
    if (this.instanceID.length < 1 || this.instanceID.length > 64) {
      throw err(Code.InvalidParameters, "create: instanceID must be 1..64 characters");
    }
    this.timeoutMs = opts.timeoutMs ?? 30000;
    if (typeof BroadcastChannel !== "undefined") {
      this.channel = new BroadcastChannel(`imkit-${this.appID}`);
      this.channel.onmessage = (ev: MessageEvent) => {
        const d = ev.data as { user?: unknown; instanceID?: unknown } | null;
        if (d && typeof d.user === "string" && d.instanceID !== this.instanceID) this.siblings.set(d.user, Date.now());
      };
    }
    if (typeof window !== "undefined") {
      window.addEventListener("online", this.nudge);
      document.addEventListener("visibilitychange", this.nudge);
    }
  }

  on<K extends EventName>(name: K, listener: Listener<K>): void {
    this.ev.on(name, listener);
  }

  off<K extends EventName>(name: K, listener: Listener<K>): void {
    this.ev.off(name, listener);
  }

  private emit<K extends EventName>(name: K, data: EventData[K]): void {
    const e: ChatEvent<K> = { name, data };
    this.ev.emit(name, e as Events[K]);
  }

  private setNet(state: NetState): void {
    if (this.net === state) return;
    this.net = state;
    this.emit(EVENT.NET_STATE_CHANGE, { state });
  }

  getLoginUser(): string {
    return this.status === LOGINED ? this.user : "";
  }

  isReady(): boolean {
    return this.status === LOGINED;
  }

  getLoginStatus(): LoginStatus {
    return this.status;
  }

  async login(options: LoginOptions): Promise<Response<{ repeatLogin: boolean }>> {
    if (this.destroyed) throw notInitialized();
    if (!options || typeof options !== "object") throw err(Code.InvalidParameters, "login: options are required");
    const { userID, userSig } = options;
    const bad = validUserID(userID);
    if (bad) throw bad;
    if (typeof userSig !== "string" || userSig === "") throw err(Code.SvrUserSigEmpty, "userSig is empty");
    if (this.attempt) throw err(Code.LoginInProcess, "another login is in progress");
    if (this.status === LOGINED && this.session && this.user === userID) {
      return { code: 0, data: { repeatLogin: true } };
    }
    let abort: (code: number) => void = () => {};
    const a: Attempt = {
      code: 0,
      abort: (code) => abort(code),
      aborted: new Promise<never>((_, reject) => {
        abort = (code) => {
          a.code = code;
          reject(err(code, "the login was ended before it finished"));
        };
      }),
    };
    a.aborted.catch(() => {});
    this.attempt = a;
    this.status = LOGINING;
    const old = this.session;
    this.session = null;
    this.openCache(userID);
    if (old) await old.logout(); // an account switch: the old user's session ends on the server

    const s: Session = new Session(
      {
        url: this.url,
        appID: this.appID,
        instanceID: this.instanceID,
        userSigProvider: this.opts.userSigProvider,
        heartbeatMs: this.opts.heartbeatMs,
        reconnectMinMs: this.opts.reconnectMinMs ?? 200,
        reconnectMaxMs: this.opts.reconnectMaxMs ?? 30000,
        timeoutMs: this.timeoutMs,
      },
      userID,
      userSig,
      {
        netState: (st) => this.session === s && this.setNet(st),
        attached: (c, r) => this.session === s && this.onAttached(s, c, r),
        push: (op, d) => this.session === s && this.onPush(s, op, d),
        ended: (how, kick, code, msg) => this.session === s && this.onEnded(how, kick, code, msg),
      },
    );
    this.setNet("connecting");
    // Tell this browser's other tabs first: the login may kick one of them.
    this.channel?.postMessage({ user: userID, instanceID: this.instanceID });
    const dial = s.dialLogin("", this.timeoutMs);
    let conn: Connection;
    let reply: LoginReply;
    try {
      [conn, reply] = await Promise.race([dial, a.aborted]);
    } catch (e) {
      if (this.attempt !== a) {
        dial.then(([c]) => s.logoutOn(c), () => {});
        throw err(a.code || Code.LoggedOutBeforeLogin, "the login was ended before it finished");
      }
      this.attempt = null;
      this.status = LOGOUT;
      this.setNet("disconnected");
      if (codeOf(e) === Code.SvrUserSigExpired) {
        throw err(Code.UserSigExpired, `the ticket expired (server code ${Code.SvrUserSigExpired})`);
      }
      throw e;
    }
    if (this.attempt !== a) {
      void s.logoutOn(conn);
      throw err(a.code || Code.LoggedOutBeforeLogin, "the login was ended before it finished");
    }
    this.attempt = null;
    this.session = s;
    this.user = userID;
    this.status = LOGINED;
    s.start(conn, reply);
    this.emit(EVENT.SDK_READY, null);
    return { code: 0, data: { repeatLogin: false } };
  }

  async logout(): Promise<Response<Record<string, never>>> {
    if (this.destroyed) throw notInitialized();
    await this.endLogin(Code.LoggedOutBeforeLogin);
    return { code: 0, data: {} };
  }

  /** endLogin ends a running login (with code) and the session, and tells the app. */
  private async endLogin(code: number): Promise<void> {
    this.attempt?.abort(code);
    this.attempt = null;
    const s = this.session;
    const was = this.status;
    this.session = null;
    this.status = LOGOUT;
    if (was !== LOGOUT) this.setNet("disconnected");
    if (was === LOGINED) this.emit(EVENT.SDK_NOT_READY, null);
    if (s) await s.logout();
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    if (typeof window !== "undefined") {
      window.removeEventListener("online", this.nudge);
      document.removeEventListener("visibilitychange", this.nudge);
    }
    this.channel?.close();
    this.channel = null;
    await this.endLogin(Code.Interrupted);
    clearTimeout(this.flushTimer);
    await this.flush();
    const c = this.cache;
    this.cache = null;
    if (c) (await c).close();
    this.ev.clear();
  }

  private loggedIn(): Session {
    if (this.destroyed) throw notInitialized();
    const s = this.session;
    if (this.status !== LOGINED || !s) throw err(Code.SDKNotLoggedIn, "not logged in");
    return s;
  }

  /**
   * kickType names a kick as Tencent's Web SDK does: MULT_ACCOUNT when
   * another tab of this browser logged in as the same user over the Web
   * instance limit (within the last minute), MULT_DEVICE for a login
   * elsewhere (another device, another browser, a native platform the policy
   * does not allow beside Web), REST_API for an admin kick.
   */
  private kickType(k: Kick | null): KickedOutType {
    switch (k?.reason) {
      case KickReason.Admin:
        return TYPES.KICKED_OUT_REST_API;
      case KickReason.MultiInstance: {
        const at = this.siblings.get(this.user);
        if (at !== undefined && Date.now() - at < 60000) return TYPES.KICKED_OUT_MULT_ACCOUNT;
      }
    }
    return TYPES.KICKED_OUT_MULT_DEVICE;
  }

  private onEnded(how: Ending, kick: Kick | null, code: number, message: string): void {
    this.session = null;
    this.status = LOGOUT;
    if (how === "kicked") {
      const data: { type: KickedOutType; platform?: string; time?: number } = { type: this.kickType(kick) };
      if (kick?.platform) data.platform = kick.platform;
      if (kick?.time) data.time = kick.time;
      this.emit(EVENT.KICKED_OUT, data);
    } else if (how === "expired") {
      this.emit(EVENT.KICKED_OUT, { type: TYPES.KICKED_OUT_USERSIG_EXPIRED });
    } else {
      this.emit(EVENT.ERROR, { code, message });
    }
    this.setNet("disconnected");
    this.emit(EVENT.SDK_NOT_READY, null);
  }

  // Messages.

  createTextMessage(o: CreateTextMessageOptions): Message {
    if (!o || typeof o.payload?.text !== "string") throw err(Code.InvalidParameters, "createTextMessage: payload.text is required");
    return this.newMessage(o.to, o.conversationType, TYPES.MSG_TEXT, { text: o.payload.text });
  }

  createCustomMessage(o: CreateCustomMessageOptions): Message {
    if (!o || typeof o.payload?.data !== "string") throw err(Code.InvalidParameters, "createCustomMessage: payload.data is required");
    const p: CustomPayload = { data: o.payload.data, description: o.payload.description ?? "", extension: o.payload.extension ?? "" };
    return this.newMessage(o.to, o.conversationType, TYPES.MSG_CUSTOM, p);
  }

  private newMessage(to: string, convType: string, type: Message["type"], payload: TextPayload | CustomPayload): Message {
    if (convType !== TYPES.CONV_C2C) throw err(Code.InvalidParameters, "only C2C conversations are supported");
    const bad = validUserID(to);
    if (bad) throw bad;
    const now = Date.now();
    // Time-ordered client message IDs: milliseconds in 12 hex digits, then 20 random ones.
    const id = now.toString(16).padStart(12, "0").slice(-12) + randomHex(10);
    return {
      ID: id,
      conversationID: TYPES.CONV_C2C + to,
      conversationType: TYPES.CONV_C2C,
      from: this.getLoginUser(),
      to,
      flow: "out",
      time: Math.floor(now / 1000),
      sequence: 0,
      random: crypto.getRandomValues(new Uint32Array(1))[0]!,
      status: TYPES.MSG_STATUS_UNSEND,
      type,
      payload,
      onlineUserOnly: false,
      msgID: "",
    };
  }

  async sendMessage(message: Message, options?: SendMessageOptions): Promise<Response<{ message: Message }>> {
    const s = this.loggedIn();
    if (!message || typeof message.ID !== "string") throw err(Code.InvalidParameters, "sendMessage: not a message");
    const bad = validUserID(message.to);
    if (bad) throw bad;
    const onlineOnly = options?.onlineUserOnly === true;
    const req = {
      to: message.to,
      clientMsgID: message.ID,
      random: message.random,
      elems: toElems(message),
      onlineOnly: onlineOnly || undefined,
    };
    message.onlineUserOnly = onlineOnly;
    message.from = s.userID;
    this.sending.add(message.ID);
    try {
      const r = (await s.call(Op.Send, req)) as SendReply;
      message.status = TYPES.MSG_STATUS_SUCCESS;
      message.msgID = r.msgID;
      message.sequence = r.convSeq;
      message.time = Math.floor(r.time / 1000);
      message.onlineUserOnly = r.seq === 0;
      if (r.seq > 0 && this.session === s) {
        const w: WireMessage = {
          msgID: r.msgID,
          clientMsgID: message.ID,
          from: s.userID,
          to: message.to,
          seq: r.seq,
          convSeq: r.convSeq,
          time: r.time,
          random: message.random,
          elems: req.elems,
        };
        this.store(w);
        this.scheduleFlush();
      }
      return { code: 0, data: { message } };
    } catch (e) {
      message.status = TYPES.MSG_STATUS_FAIL;
      const ce = e instanceof IMKitError ? e : err(codeOf(e), String(e));
      ce.data = { message };
      throw ce;
    } finally {
      this.sending.delete(message.ID);
    }
  }

  async getConversationList(): Promise<Response<{ conversationList: Conversation[]; isSyncCompleted: boolean }>> {
    if (this.destroyed) throw notInitialized();
    if (!this.cache) throw err(Code.SDKNotLoggedIn, "no user has logged in on this instance");
    await this.cache;
    const list = [...this.convs.values()].sort((a, b) => b.time - a.time || (a.peer < b.peer ? -1 : 1));
    return { code: 0, data: { conversationList: list.map(toConversation), isSyncCompleted: this.convSynced } };
  }

  async getMessageList(o: GetMessageListOptions): Promise<Response<{ messageList: Message[]; nextReqMessageID: string; isCompleted: boolean }>> {
    const s = this.loggedIn();
    const peer = peerOf(o?.conversationID);
    const count = o.count ?? 15;
    if (!Number.isInteger(count) || count < 1 || count > Limits.MaxPageSize) {
      throw err(Code.InvalidParameters, `count must be 1..${Limits.MaxPageSize}`);
    }
    let before = 0;
    if (o.nextReqMessageID) {
      const seq = this.convSeqs.get(o.nextReqMessageID);
      if (seq === undefined) throw err(Code.InvalidParameters, "unknown nextReqMessageID: pass the previous page's");
      before = seq;
    }
    const r = (await s.call(Op.History, { peer, before, limit: count })) as HistoryReply;
    const list = (r.msgs ?? []).map((w) => this.toMessage(w, s.userID)).reverse();
    for (const m of list) this.convSeqs.set(m.ID, m.sequence);
    const more = r.more === true && list.length > 0;
    return { code: 0, data: { messageList: list, nextReqMessageID: more ? list[0]!.ID : "", isCompleted: !more } };
  }

  async setMessageRead(o: { conversationID: string }): Promise<Response<Record<string, never>>> {
    const s = this.loggedIn();
    const peer = peerOf(o?.conversationID);
    const r = (await s.call(Op.ConvRead, { peer })) as ConvRead;
    if (this.session === s) this.applyRead(r);
    return { code: 0, data: {} };
  }

  async deleteConversation(options: string | { conversationIDList: string[] }): Promise<Response<{ conversationIDList: string[] }>> {
    const s = this.loggedIn();
    const ids = typeof options === "string" ? [options] : options?.conversationIDList;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100) {
      throw err(Code.InvalidParameters, "deleteConversation: 1..100 conversation IDs");
    }
    const peers = ids.map(peerOf);
    for (const peer of peers) {
      await s.call(Op.ConvDel, { peer });
      if (this.session === s) this.applyDel(peer);
    }
    return { code: 0, data: { conversationIDList: ids } };
  }

  getTotalUnreadMessageCount(): number {
    let n = 0;
    for (const cv of this.convs.values()) n += cv.unread;
    return n;
  }

  // The mailbox and the conversation list.

  private applyDel(peer: string): void {
    if (!this.convs.delete(peer)) return;
    this.dirty.delete(peer);
    void this.cache?.then((c) => c.remove(peer));
    this.emitConversations();
  }

  /** openCache opens userID's cache (closing another user's) and loads it. */
  private openCache(userID: string): void {
    if (this.cache && this.cacheUser === userID) return;
    const old = this.cache;
    if (old) void old.then((c) => c.close());
    this.cacheUser = userID;
    this.convs = new Map();
    this.synced = 0;
    this.hasCursor = false;
    this.above.clear();
    this.dirty.clear();
    this.convSynced = false;
    this.cache = Cache.open(this.appID, userID).then(async (c) => {
      const [convs, synced] = await Promise.all([c.conversations(), c.syncedSeq()]);
      if (this.cacheUser === userID) {
        for (const cv of convs) if (!this.convs.has(cv.peer)) this.convs.set(cv.peer, cv);
        if (synced !== null) {
          this.hasCursor = true;
          this.synced = Math.max(this.synced, synced);
          this.advance();
        }
      }
      return c;
    });
  }

  private onAttached(s: Session, c: Connection, reply: LoginReply): void {
    this.syncing = this.syncing.then(() => this.sync(s, c, reply.maxSeq));
  }

  /**
   * sync catches up after a login or resume: the mailbox after the synced
   * seq, then the conversation list. A new device (a cache that never
   * synced), or one more than CATCH_UP_LIMIT messages behind, starts at the
   * newest message instead: the conversation list and getMessageList show
   * the past; MESSAGE_RECEIVED is for what is new.
   */
  private async sync(s: Session, c: Connection, maxSeq: number): Promise<void> {
    if (!this.cache) return;
    await this.cache;
    try {
      if (!this.hasCursor || maxSeq > this.synced + CATCH_UP_LIMIT) {
        this.hasCursor = true;
        if (maxSeq > this.synced) {
          this.synced = maxSeq;
          this.advance();
        }
      }
      // Also when synced is at maxSeq: a message stored while the
      // connection was being set up may have been neither counted in
      // maxSeq nor pushed.
      await this.syncMailbox(s, c);
      await this.syncConversations(s, c);
    } catch {
      // the next resume syncs again; a gap is filled when a push shows it
    }
  }

  private async syncMailbox(s: Session, c: Connection): Promise<void> {
    for (;;) {
      if (this.session !== s || c.closed) return;
      const r = (await c.request(Op.Sync, { after: this.synced, limit: Limits.MaxPageSize }, this.timeoutMs)).data as SyncReply;
      if (this.session !== s) return;
      const msgs = r.msgs ?? [];
      const news: Message[] = [];
      for (const w of msgs) {
        if (this.store(w) && !this.isOwnSend(w, s)) news.push(this.toMessage(w, s.userID));
      }
      const last = msgs[msgs.length - 1];
      if (last && last.seq > this.synced) {
        this.synced = last.seq;
        this.advance();
      }
      this.scheduleFlush();
      if (news.length) this.emit(EVENT.MESSAGE_RECEIVED, news);
      if (!r.more || msgs.length === 0) return;
    }
  }

  private async syncConversations(s: Session, c: Connection): Promise<void> {
    const all: WireConversation[] = [];
    let cursor = "";
    for (let page = 0; page < 1000; page++) {
      const r = (await c.request(Op.ConvList, { cursor, limit: Limits.MaxPageSize }, this.timeoutMs)).data as ConvListReply;
      all.push(...(r.convs ?? []));
      if (!r.more || !r.next) break;
      cursor = r.next;
    }
    if (this.session !== s) return;
    this.convs = new Map(all.map((cv) => [cv.peer, cv]));
    this.convSynced = true;
    const cache = await this.cache;
    await cache?.write(all, this.synced, true);
    this.emitConversations();
  }

  private isOwnSend(w: WireMessage, s: Session): boolean {
    return w.from === s.userID && this.sending.has(w.clientMsgID);
  }

  private onPush(s: Session, op: string, data: unknown): void {
    if (op === Push.Msg) {
      const w = data as WireMessage;
      if (!w || typeof w.seq !== "number") return;
      if (w.seq === 0) {
        // Online-only: told, not stored, not counted in the mailbox.
        if (!this.isOwnSend(w, s)) this.emit(EVENT.MESSAGE_RECEIVED, [this.toMessage(w, s.userID)]);
        return;
      }
      const isNew = this.store(w);
      this.scheduleFlush();
      if (isNew && !this.isOwnSend(w, s)) this.emit(EVENT.MESSAGE_RECEIVED, [this.toMessage(w, s.userID)]);
      if (this.hasCursor && (w.seq > this.synced + 1 || this.above.size > 0)) {
        // A gap before it: fill it from the server.
        const c = s.conn;
        if (c) this.syncing = this.syncing.then(() => this.syncMailbox(s, c)).catch(() => {});
      }
    } else if (op === Push.ConvRead) {
      this.applyRead(data as ConvRead);
    } else if (op === Push.Sync) {
      // Pushes may have been lost between the server's nodes: catch up as
      // after a resume.
      const c = s.conn;
      if (c) this.syncing = this.syncing.then(() => this.sync(s, c, 0));
    } else if (op === Push.ConvDel) {
      const d = data as ConvDel;
      if (d && typeof d.peer === "string") this.applyDel(d.peer);
    }
  }

  /** store takes a stored message of the mailbox; it returns false when it had it already. */
  private store(w: WireMessage): boolean {
    if (w.seq <= this.synced || this.above.has(w.seq)) return false;
    this.above.add(w.seq);
    this.advance();
    const me = this.cacheUser;
    const peer = w.from === me ? w.to : w.from;
    const cv = this.convs.get(peer) ?? { peer, unread: 0, convSeq: 0, readSeq: 0, time: 0 };
    if (w.convSeq > cv.convSeq) {
      cv.lastMessage = w;
      cv.convSeq = w.convSeq;
      cv.time = w.time;
    }
    if (w.from === peer && w.convSeq > cv.readSeq) cv.unread++;
    this.convs.set(peer, cv);
    this.dirty.add(peer);
    return true;
  }

  private advance(): void {
    while (this.above.has(this.synced + 1)) {
      this.above.delete(this.synced + 1);
      this.synced++;
    }
    for (const seq of this.above) if (seq <= this.synced) this.above.delete(seq);
  }

  private applyRead(r: ConvRead): void {
    if (!r || typeof r.peer !== "string") return;
    const cv = this.convs.get(r.peer);
    if (!cv) return;
    if (r.readSeq >= cv.readSeq) {
      cv.readSeq = r.readSeq;
      cv.unread = r.unread;
    }
    this.dirty.add(r.peer);
    this.scheduleFlush();
  }

  /** scheduleFlush writes the changes to the cache and tells the app, once per task. */
  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, 0);
  }

  private async flush(): Promise<void> {
    const peers = [...this.dirty];
    this.dirty.clear();
    const convs = peers.map((p) => this.convs.get(p)).filter((c): c is WireConversation => c !== undefined);
    if (convs.length) this.emitConversations();
    const cache = this.cache ? await this.cache : null;
    await cache?.write(convs, this.synced);
  }

  private emitConversations(): void {
    const list = [...this.convs.values()].sort((a, b) => b.time - a.time || (a.peer < b.peer ? -1 : 1));
    this.emit(EVENT.CONVERSATION_LIST_UPDATED, list.map(toConversation));
  }

  private toMessage(w: WireMessage, me: string): Message {
    const peer = w.from === me ? w.to : w.from;
    const { type, payload } = fromElems(w.elems ?? []);
    return {
      ID: w.clientMsgID || w.msgID,
      conversationID: TYPES.CONV_C2C + peer,
      conversationType: TYPES.CONV_C2C,
      from: w.from,
      to: w.to,
      flow: w.from === me ? "out" : "in",
      time: Math.floor(w.time / 1000),
      sequence: w.convSeq,
      random: w.random ?? 0,
      status: TYPES.MSG_STATUS_SUCCESS,
      type,
      payload,
      onlineUserOnly: w.seq === 0,
      msgID: w.msgID,
    };
  }
}

function notInitialized(): IMKitError {
  return err(Code.SDKNotInitialized, "the SDK was destroyed");
}


/** The most missed messages a device catches up on (as the Go SDK's sdk.CatchUpLimit). */
const CATCH_UP_LIMIT = 1000;

function peerOf(conversationID: unknown): string {
  if (typeof conversationID !== "string" || !conversationID.startsWith(TYPES.CONV_C2C)) {
    throw err(Code.InvalidParameters, "conversationID must be 'C2C' + a userID");
  }
  const peer = conversationID.slice(TYPES.CONV_C2C.length);
  const bad = validUserID(peer);
  if (bad) throw bad;
  return peer;
}

function toElems(m: Message): Elem[] {
  if (m.type === TYPES.MSG_CUSTOM) {
    const p = m.payload as CustomPayload;
    const e: Elem = { type: ElemType.Custom, data: p.data };
    if (p.description) e.desc = p.description;
    if (p.extension) e.ext = p.extension;
    return [e];
  }
  return [{ type: ElemType.Text, text: (m.payload as TextPayload).text }];
}

function fromElems(elems: Elem[]): { type: Message["type"]; payload: TextPayload | CustomPayload } {
  const custom = elems.find((e) => e.type === ElemType.Custom);
  if (custom && !elems.some((e) => e.type === ElemType.Text)) {
    return { type: TYPES.MSG_CUSTOM, payload: { data: custom.data ?? "", description: custom.desc ?? "", extension: custom.ext ?? "" } };
  }
  const text = elems.filter((e) => e.type === ElemType.Text).map((e) => e.text ?? "").join("");
  return { type: TYPES.MSG_TEXT, payload: { text } };
}

function toLastMessage(w: WireMessage): LastMessage {
  const { type, payload } = fromElems(w.elems ?? []);
  return {
    ID: w.clientMsgID || w.msgID,
    fromAccount: w.from,
    type,
    payload,
    lastTime: Math.floor(w.time / 1000),
    lastSequence: w.convSeq,
    messageForShow: type === TYPES.MSG_TEXT ? (payload as TextPayload).text : (payload as CustomPayload).description,
  };
}

function toConversation(c: WireConversation): Conversation {
  return {
    conversationID: TYPES.CONV_C2C + c.peer,
    type: TYPES.CONV_C2C,
    unreadCount: c.unread,
    lastMessage: c.lastMessage ? toLastMessage(c.lastMessage) : null,
    userProfile: { userID: c.peer },
  };
}

/** wsURL turns the server URL into its WebSocket endpoint's. */
function wsURL(server: unknown): string {
  if (typeof server !== "string") throw err(Code.InvalidParameters, "create: serverURL is required");
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw err(Code.InvalidParameters, `create: bad serverURL ${JSON.stringify(server)}`);
  }
  switch (u.protocol) {
    case "http:":
      u.protocol = "ws:";
      break;
    case "https:":
      u.protocol = "wss:";
      break;
    case "ws:":
    case "wss:":
      break;
    default:
      throw err(Code.InvalidParameters, "create: serverURL must be http, https, ws or wss");
  }
  if (u.pathname === "" || u.pathname === "/") u.pathname = "/ws";
  return u.toString();
}

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
