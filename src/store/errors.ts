// The storage layer's one error type. Callers branch on `code`, never on message text; the
// protocol layers map them to replies (e.g. "busy" and "io" are local faults: SMTP 4xx).
export type StoreErrorCode =
  | "exists" // a unique name is taken
  | "not-found" // the record a change refers to is absent
  | "in-use" // removal refused while dependants remain
  | "invalid" // an argument the store refuses (e.g. renaming INBOX)
  | "over-quota" // a delivery would exceed the owner's quota
  | "busy" // the database stayed locked past busy_timeout
  | "io"; // a file-system failure

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreError";
    this.code = code;
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}
