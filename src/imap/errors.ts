// The one error type IMAP command handlers throw (STYLE.md §5). The command boundary in
// session.ts renders it as the tagged response; anything else thrown is a server fault, logged
// and answered NO [SERVERBUG] without ending the session.
import type { ResponseCode } from "./protocol/response.ts";
import { StoreError } from "../store/errors.ts";

export class ImapError extends Error {
  readonly status: "NO" | "BAD";
  readonly code: ResponseCode | null;
  /** True when the client is at fault (logged at debug), false for our faults (warn). */
  readonly userFault: boolean;

  constructor(status: "NO" | "BAD", text: string, code: ResponseCode | null = null, userFault = true) {
    super(text);
    this.name = "ImapError";
    this.status = status;
    this.code = code;
    this.userFault = userFault;
  }
}

export const no = (text: string, code?: ResponseCode["code"]): ImapError =>
  new ImapError("NO", text, code ? ({ code } as ResponseCode) : null);
export const bad = (text: string, code?: ResponseCode["code"]): ImapError =>
  new ImapError("BAD", text, code ? ({ code } as ResponseCode) : null);

export const nonexistent = (): ImapError => no("No such mailbox", "NONEXISTENT");

/** Store errors mapped to RFC 5530 response codes. */
export function fromStoreError(e: unknown): ImapError | null {
  if (!(e instanceof StoreError)) return null;
  switch (e.code) {
    case "not-found":
      return no("No such mailbox", "NONEXISTENT");
    case "exists":
      return no("Mailbox already exists", "ALREADYEXISTS");
    case "over-quota":
      return no("Quota exceeded", "OVERQUOTA"); // RFC 9208 §4.3
    case "in-use":
      return no("Mailbox in use", "INUSE");
    case "invalid":
      return no(e.message, "CANNOT");
    default:
      return new ImapError("NO", "Temporary failure, try again", { code: "UNAVAILABLE" }, false);
  }
}
