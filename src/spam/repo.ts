// What the spam filter keeps per account (implemented by src/store/sqlite/spam.ts). Counts of
// the reputation are stored with the time they were last updated and decayed on read and on
// update: value · 2^(-age / half-life).
import type { ClassifierTotals, TokenCounts } from "./bayes.ts";

export type RepKind = "addr" | "domain" | "net";

export interface Reputation {
  seen: number;
  ham: number;
  spam: number;
  wrote: number;
}

export interface RepUpdate {
  kind: RepKind;
  key: string;
  seen?: number;
  ham?: number;
  spam?: number;
  wrote?: number;
}

export interface SpamRepo {
  totals(userId: number): Promise<ClassifierTotals & { bootstrappedAt: number | null }>;
  /** Counts of these token hashes (absent: never seen). */
  tokenCounts(userId: number, hashes: readonly number[]): Promise<Map<number, TokenCounts>>;
  /**
   * Records that this message trains `cls` (null: untrain). Returns false when it already was
   * that class. Token deltas are applied in the same transaction: the previous class's counts
   * are removed first.
   */
  train(userId: number, blobId: number, cls: "ham" | "spam" | null, hashes: readonly number[], now: number): Promise<boolean>;
  trainedClass(userId: number, blobId: number): Promise<"ham" | "spam" | null>;
  markBootstrapped(userId: number, at: number): Promise<void>;
  reputation(userId: number, kind: RepKind, key: string, now: number, halfLifeMs: number): Promise<Reputation | null>;
  updateReputation(userId: number, updates: readonly RepUpdate[], now: number, halfLifeMs: number): Promise<void>;
  count(userId: number, name: string, by?: number): Promise<void>;
  counters(userId?: number): Promise<Array<{ userId: number; name: string; value: number }>>;
  /** Drops every row of users not in `keep` (removed accounts); returns the rows deleted. */
  purgeUsersExcept(keep: readonly number[]): Promise<number>;
  /** Rows in spam_tokens per user (for stats). */
  tokenRows(userId?: number): Promise<Array<{ userId: number; tokens: number }>>;
}

/** value · 2^(-age/halfLife). */
export function decay(value: number, ageMs: number, halfLifeMs: number): number {
  if (ageMs <= 0 || halfLifeMs <= 0) return value;
  return value * Math.pow(2, -ageMs / halfLifeMs);
}
