// @imkit/chat: imkit's browser SDK. The default export, IMKitChat, has the
// shape of Tencent Cloud Chat's TencentCloudChat: import it under that name
// and point serverURL at an imkit server to move an app.

import type { IMKitChatStatic } from "./api";
import { ChatImpl, EVENT, TYPES, VERSION } from "./chat";

const IMKitChat: IMKitChatStatic = {
  create: (options) => new ChatImpl(options),
  EVENT,
  TYPES,
  VERSION,
};

export default IMKitChat;
export { IMKitChat };
