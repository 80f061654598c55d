// The public face of @imkit/chat: the types an app sees, shaped like
// Tencent Cloud Chat's Web SDK (TencentCloudChat). This file holds types
// only, no code and no imports: the generator copies it as it is into
// dist/imkit-chat.d.ts.

/** IMKitChat.create's options. */
export interface CreateOptions {
  /** The app's SDKAppID. */
  SDKAppID: number;
  /** The imkit server: "https://chat.example.com" (or http, ws, wss); the WebSocket path defaults to /ws. */
  serverURL: string;
  /**
   * Asked for a fresh ticket when the server says the current one is about to
   * expire; the SDK renews it on the same connection. Without it the session
   * ends at expiry (KICKED_OUT with KICKED_OUT_USERSIG_EXPIRED).
   */
  userSigProvider?: (userID: string) => Promise<string>;
  /** Identifies this tab to the server (1..64 bytes); default random per instance. */
  instanceID?: string;
  /** Overrides the server's heartbeat interval, in milliseconds. */
  heartbeatMs?: number;
  /** Reconnect backoff bounds in milliseconds (full jitter): default 200 and 30000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Bounds login, each reconnect try, and calls waiting for the connection (default 30000 ms). */
  timeoutMs?: number;
}

/** The event names, Tencent's values. */
export interface EventTypes {
  readonly SDK_READY: "sdkStateReady";
  readonly SDK_NOT_READY: "sdkStateNotReady";
  readonly KICKED_OUT: "kickedOut";
  readonly NET_STATE_CHANGE: "netStateChange";
  readonly MESSAGE_RECEIVED: "onMessageReceived";
  readonly CONVERSATION_LIST_UPDATED: "onConversationListUpdated";
  readonly ERROR: "error";
}

/** Type constants, Tencent's values. */
export interface TypeConstants {
  readonly CONV_C2C: "C2C";
  readonly MSG_TEXT: "TIMTextElem";
  readonly MSG_CUSTOM: "TIMCustomElem";
  readonly KICKED_OUT_MULT_ACCOUNT: "multipleAccount";
  readonly KICKED_OUT_MULT_DEVICE: "multipleDevice";
  readonly KICKED_OUT_USERSIG_EXPIRED: "userSigExpired";
  readonly KICKED_OUT_REST_API: "REST_API_Kick";
  readonly NET_STATE_CONNECTED: "connected";
  readonly NET_STATE_CONNECTING: "connecting";
  readonly NET_STATE_DISCONNECTED: "disconnected";
  readonly MSG_STATUS_UNSEND: "unSend";
  readonly MSG_STATUS_SUCCESS: "success";
  readonly MSG_STATUS_FAIL: "fail";
}

export type ConversationType = "C2C";
export type MessageType = "TIMTextElem" | "TIMCustomElem";
export type KickedOutType = "multipleAccount" | "multipleDevice" | "userSigExpired" | "REST_API_Kick";
export type NetState = "connected" | "connecting" | "disconnected";
export type MessageStatus = "unSend" | "success" | "fail";
/** Login status, Tencent's values: LOGINED 1, LOGINING 2, LOGOUT 3. */
export type LoginStatus = 1 | 2 | 3;

export interface TextPayload {
  text: string;
}

export interface CustomPayload {
  data: string;
  description: string;
  extension: string;
}

/** A one-to-one (C2C) message. */
export interface Message {
  /** Stable from creation: the client message ID; a resend never duplicates. */
  ID: string;
  conversationID: string;
  conversationType: ConversationType;
  from: string;
  to: string;
  /** "out" for this user's own messages. */
  flow: "in" | "out";
  /** Unix seconds (server time once sent). */
  time: number;
  /** The conversation's sequence number; 0 until stored, and for online-only messages. */
  sequence: number;
  random: number;
  status: MessageStatus;
  type: MessageType;
  payload: TextPayload | CustomPayload;
  /** Sent with onlineUserOnly: kept nowhere, in no history, counts as no unread. */
  onlineUserOnly: boolean;
  /** imkit: the server's message ID ("" until sent). */
  msgID: string;
}

/** A conversation's last message, as Tencent's conversation.lastMessage. */
export interface LastMessage {
  ID: string;
  fromAccount: string;
  type: MessageType;
  payload: TextPayload | CustomPayload;
  /** Unix seconds. */
  lastTime: number;
  lastSequence: number;
  /** The text, or the custom message's description. */
  messageForShow: string;
}

export interface Conversation {
  /** "C2C" + the peer's userID. */
  conversationID: string;
  type: ConversationType;
  unreadCount: number;
  lastMessage: LastMessage | null;
  userProfile: { userID: string };
}

/** A successful call's result, as Tencent's imResponse. */
export interface Response<T> {
  code: 0;
  data: T;
}

/** A failed call's rejection, as Tencent's imError: code is Tencent's number. */
export interface ChatError extends Error {
  code: number;
  message: string;
  data?: { message?: Message };
}

export interface KickedOutData {
  type: KickedOutType;
  /** imkit: the kicking login's platform ("Web", "Android"...), absent for an admin kick or expiry. */
  platform?: string;
  /** imkit: when, Unix milliseconds. */
  time?: number;
}

/** Each event's data, by event name. */
export interface EventData {
  sdkStateReady: null;
  sdkStateNotReady: null;
  kickedOut: KickedOutData;
  netStateChange: { state: NetState };
  onMessageReceived: Message[];
  onConversationListUpdated: Conversation[];
  error: { code: number; message: string };
}

export type EventName = keyof EventData;

export interface ChatEvent<K extends EventName> {
  name: K;
  data: EventData[K];
}

export type Listener<K extends EventName> = (event: ChatEvent<K>) => void;

export interface LoginOptions {
  userID: string;
  userSig: string;
}

export interface CreateTextMessageOptions {
  to: string;
  conversationType: ConversationType;
  payload: { text: string };
}

export interface CreateCustomMessageOptions {
  to: string;
  conversationType: ConversationType;
  payload: { data: string; description?: string; extension?: string };
}

export interface SendMessageOptions {
  /** Deliver only to the instances online now; store nothing (typing indicators). */
  onlineUserOnly?: boolean;
}

export interface GetMessageListOptions {
  conversationID: string;
  /** From the previous page's nextReqMessageID: older messages than that one. */
  nextReqMessageID?: string;
  /** Messages per page, 1..100 (default 15). */
  count?: number;
}

/** One SDK instance: one Web instance to the server's login policy. */
export interface Chat {
  /** Resolves { code: 0, data: { repeatLogin } }; rejects with a ChatError (6206, 70009, 7501, 6023...). */
  login(options: LoginOptions): Promise<Response<{ repeatLogin: boolean }>>;
  /** Ends this instance's session (the user's others stay online). */
  logout(): Promise<Response<Record<string, never>>>;
  /** Logs out and releases everything; every later call rejects with 6013. */
  destroy(): Promise<void>;
  /** The logged-in userID, "" unless logged in. */
  getLoginUser(): string;
  /** True when logged in (SDK_READY fired and no SDK_NOT_READY since). */
  isReady(): boolean;
  /** imkit: LOGINED 1, LOGINING 2, LOGOUT 3. */
  getLoginStatus(): LoginStatus;
  on<K extends EventName>(name: K, listener: Listener<K>): void;
  off<K extends EventName>(name: K, listener: Listener<K>): void;
  createTextMessage(options: CreateTextMessageOptions): Message;
  createCustomMessage(options: CreateCustomMessageOptions): Message;
  /** Resolves once the server stored the message; sending the same message again never duplicates it. */
  sendMessage(message: Message, options?: SendMessageOptions): Promise<Response<{ message: Message }>>;
  /** Works before login succeeds: from the local cache (IndexedDB) of the user logging in. */
  getConversationList(): Promise<Response<{ conversationList: Conversation[]; isSyncCompleted: boolean }>>;
  getMessageList(options: GetMessageListOptions): Promise<Response<{ messageList: Message[]; nextReqMessageID: string; isCompleted: boolean }>>;
  setMessageRead(options: { conversationID: string }): Promise<Response<Record<string, never>>>;
  /**
   * Deletes conversations for this user only, with their history and unread
   * counts, on every one of the user's instances; the peers keep theirs.
   */
  deleteConversation(options: string | { conversationIDList: string[] }): Promise<Response<{ conversationIDList: string[] }>>;
  /** The sum of the unread counts of the user's conversations. */
  getTotalUnreadMessageCount(): number;
}

/** The default export: IMKitChat (import it as TencentCloudChat to move an app). */
export interface IMKitChatStatic {
  create(options: CreateOptions): Chat;
  readonly EVENT: EventTypes;
  readonly TYPES: TypeConstants;
  readonly VERSION: string;
}
