// Errors of the accounts service. The CLI prints `message` as is (it is written for the
// operator); the HTTP API maps `code` to a status (invalid 400, forbidden 403, not-found 404,
// exists/in-use 409).
export type AccountErrorCode = "invalid" | "forbidden" | "not-found" | "exists" | "in-use";

export class AccountError extends Error {
  readonly code: AccountErrorCode;
  constructor(code: AccountErrorCode, message: string) {
    super(message);
    this.name = "AccountError";
    this.code = code;
  }
}

export function isAccountError(e: unknown, code?: AccountErrorCode): e is AccountError {
  return e instanceof AccountError && (code === undefined || e.code === code);
}
