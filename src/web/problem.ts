// RFC 9457 problem details: every error the API returns is `application/problem+json` with
// type, title, status and detail. `type` is a stable URI per kind of error (docs/api.md
// "Errors"), so clients branch on it rather than on the English text.
import { isAccountError } from "../accounts/errors.ts";
import type { AccountErrorCode } from "../accounts/errors.ts";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  /** For "invalid-request": where and what (path into the body/query, message). */
  errors?: Array<{ path: string; message: string }>;
}

export const PROBLEM_BASE = "https://freehold.invalid/problems/";

/** The API's catalogue of errors (STYLE.md §5): kind → status and title. */
export const PROBLEMS = {
  "invalid-request": { status: 400, title: "The request is not valid" },
  unauthenticated: { status: 401, title: "Log in or present an API token" },
  "login-failed": { status: 401, title: "Login failed" },
  forbidden: { status: 403, title: "Not allowed" },
  csrf: { status: 403, title: "Missing or wrong CSRF token" },
  "not-found": { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflicts with the current state" },
  "too-large": { status: 413, title: "Request body too large" },
  "uri-too-long": { status: 414, title: "A path segment is too long" },
  "headers-too-large": { status: 431, title: "The request line or headers are too large" },
  timeout: { status: 408, title: "The request took too long to arrive" },
  "unsupported-media-type": { status: 415, title: "Send application/json" },
  "rate-limited": { status: 429, title: "Too many attempts; try later" },
  internal: { status: 500, title: "Internal error" },
} as const;

export type ProblemKind = keyof typeof PROBLEMS;

export class ApiProblem extends Error {
  readonly kind: ProblemKind;
  readonly errors?: Problem["errors"];
  readonly headers?: Record<string, string>;
  constructor(kind: ProblemKind, detail?: string, opts: { errors?: Problem["errors"]; headers?: Record<string, string> } = {}) {
    super(detail ?? PROBLEMS[kind].title);
    this.kind = kind;
    this.errors = opts.errors;
    this.headers = opts.headers;
  }
}

export function problemBody(kind: ProblemKind, detail?: string, errors?: Problem["errors"]): Problem {
  const p: Problem = { type: PROBLEM_BASE + kind, title: PROBLEMS[kind].title, status: PROBLEMS[kind].status };
  if (detail !== undefined) p.detail = detail;
  if (errors) p.errors = errors;
  return p;
}

const ACCOUNT_KIND: Record<AccountErrorCode, ProblemKind> = {
  invalid: "invalid-request",
  forbidden: "forbidden",
  "not-found": "not-found",
  exists: "conflict",
  "in-use": "conflict",
};

/** A service-layer error as a problem; null for anything else (a bug: 500). */
export function problemOfServiceError(e: unknown): ApiProblem | null {
  if (e instanceof ApiProblem) return e;
  if (isAccountError(e)) return new ApiProblem(ACCOUNT_KIND[e.code], e.message);
  return null;
}
