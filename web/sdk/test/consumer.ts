// Type-checks the published declarations as an app would use them.
import IMKitChat from "../dist/imkit-chat.js";
import type { Chat, Message } from "../dist/imkit-chat.js";

const chat: Chat = IMKitChat.create({ SDKAppID: 1400000001, serverURL: "http://127.0.0.1:8080" });
chat.on(IMKitChat.EVENT.KICKED_OUT, (e) => {
  const t: "multipleAccount" | "multipleDevice" | "userSigExpired" | "REST_API_Kick" = e.data.type;
  void t;
});
chat.on(IMKitChat.EVENT.MESSAGE_RECEIVED, (e) => {
  const ms: Message[] = e.data;
  void ms;
});
export async function demo(): Promise<number> {
  const r = await chat.login({ userID: "alice", userSig: "ticket" });
  const m = chat.createTextMessage({ to: "bob", conversationType: IMKitChat.TYPES.CONV_C2C, payload: { text: "hi" } });
  await chat.sendMessage(m, { onlineUserOnly: false });
  const list = await chat.getConversationList();
  return list.data.conversationList.length + (r.data.repeatLogin ? 1 : 0);
}
