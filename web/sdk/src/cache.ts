// The local cache of one user, in IndexedDB (database "imkit-<SDKAppID>-<userID>"):
// the conversation list, so that it can be read before a login succeeds,
// and the mailbox seq up to which this browser has every message. Where
// IndexedDB is missing or fails (private windows, quotas) the cache lives in
// memory only and the SDK works on.

import type { Conversation as WireConversation } from "./protocol";

const convStore = "conversations";
const metaStore = "meta";

export class Cache {
  private constructor(
    readonly user: string,
    private db: IDBDatabase | null,
  ) {}

  /** open opens (or creates) the user's cache; it never fails: without IndexedDB it is a memory cache. */
  static async open(appID: number, user: string): Promise<Cache> {
    if (typeof indexedDB === "undefined") return new Cache(user, null);
    try {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(`imkit-${appID}-${user}`, 1);
        req.onupgradeneeded = () => {
          const d = req.result;
          if (!d.objectStoreNames.contains(convStore)) d.createObjectStore(convStore, { keyPath: "peer" });
          if (!d.objectStoreNames.contains(metaStore)) d.createObjectStore(metaStore);
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
        req.onblocked = () => reject(new Error("IndexedDB blocked"));
      });
      return new Cache(user, db);
    } catch {
      return new Cache(user, null);
    }
  }

  /** conversations returns the cached conversations (any order). */
  async conversations(): Promise<WireConversation[]> {
    const db = this.db;
    if (!db) return [];
    try {
      return await request<WireConversation[]>(db.transaction(convStore).objectStore(convStore).getAll());
    } catch {
      return [];
    }
  }

  /** syncedSeq returns the mailbox seq up to which every message was received (null: the cache never synced: a new device). */
  async syncedSeq(): Promise<number | null> {
    const db = this.db;
    if (!db) return null;
    try {
      const v = await request<unknown>(db.transaction(metaStore).objectStore(metaStore).get("syncedSeq"));
      return typeof v === "number" ? v : null;
    } catch {
      return null;
    }
  }

  /** remove forgets the conversation with peer. */
  async remove(peer: string): Promise<void> {
    const db = this.db;
    if (!db) return;
    try {
      const tx = db.transaction(convStore, "readwrite");
      tx.objectStore(convStore).delete(peer);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = tx.onabort = () => reject(tx.error);
      });
    } catch {
      // the next pass over the conversation list drops it
    }
  }

  /** write stores conversations and the synced seq in one transaction; replace drops the others first. */
  async write(convs: WireConversation[], syncedSeq: number | null, replace = false): Promise<void> {
    const db = this.db;
    if (!db) return;
    try {
      const tx = db.transaction([convStore, metaStore], "readwrite");
      const cs = tx.objectStore(convStore);
      if (replace) cs.clear();
      for (const c of convs) cs.put(c);
      if (syncedSeq !== null) tx.objectStore(metaStore).put(syncedSeq, "syncedSeq");
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = tx.onabort = () => reject(tx.error);
      });
    } catch {
      // the memory state goes on; the next write tries again
    }
  }

  close(): void {
    this.db?.close();
    this.db = null;
  }
}

function request<T>(req: IDBRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result as T);
    req.onerror = () => reject(req.error);
  });
}
