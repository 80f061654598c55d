// Errors with Tencent's numeric codes, the same as the Go SDK's.

import type { ChatError, Message } from "./api";
import { Code } from "./protocol";

export class IMKitError extends Error implements ChatError {
  code: number;
  data?: { message?: Message };
  /** The reply frame's data, when the server sent some with the error (a kick with 6208). */
  wire?: unknown;
  constructor(code: number, message: string) {
    super(message);
    this.name = "IMKitError";
    this.code = code;
  }
}

export function err(code: number, message: string): IMKitError {
  return new IMKitError(code, message);
}

/** codeOf returns the code of an IMKitError, or 70500 for anything else. */
export function codeOf(e: unknown): number {
  return e instanceof IMKitError ? e.code : Code.SvrInternal;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const userIDPattern = /^[A-Za-z0-9_-]{1,32}$/;

/** validUserID refuses a userID that is not 1..32 bytes of a-zA-Z0-9_- (7003). */
export function validUserID(id: unknown): IMKitError | null {
  if (typeof id !== "string" || !userIDPattern.test(id)) {
    return err(Code.InvalidIdentifier, "userID must be 1..32 characters of a-z, A-Z, 0-9, _ and -");
  }
  return null;
}
