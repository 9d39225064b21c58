// The per-account learning classifier: a small Bayesian model of our own, after Gary Robinson's
// "A Statistical Approach to the Spam Problem" (2003) as SpamBayes implements it. No library
// fits: the npm Bayes packages are naive-Bayes over word frequencies kept in memory as JSON,
// unmaintained, and none stores per-account counts in SQLite.
//
// Model. For each token w the account keeps two counts: in how many spam and how many ham
// messages it was seen (a token counts once per message). With S spam and H ham messages
// trained, the token's spam probability is
//     p(w) = (spam(w)/S) / (spam(w)/S + ham(w)/H)
// shrunk towards x = 0.5 with strength s = 0.45 by how often it was seen (n = spam + ham):
//     f(w) = (s·x + n·p(w)) / (s + n)
// The message's tokens are ranked by |f(w) - 0.5|; those at least 0.1 away from 0.5 (at most
// 150 of them) are combined by Fisher's method: with the product over chosen tokens,
//     S = 1 - Q(-2·ln Π (1 - f(w)), 2n)   "how spammy"
//     H = 1 - Q(-2·ln Π f(w), 2n)         "how hammy"
// (Q the chi-squared survival function with 2n degrees of freedom), and the result is
//     I = (1 + S - H) / 2  in [0, 1]: near 1 spam, near 0 ham, near 0.5 unsure.
// Unsure is where both or neither indicator is strong: contradictory or no evidence.
//
// Tokens are stored as 52-bit hashes (tokenHash), so the table holds two integers per token.

export interface TokenCounts {
  ham: number;
  spam: number;
}

export interface ClassifierTotals {
  /** Messages trained as ham / spam. */
  ham: number;
  spam: number;
}

export interface Classification {
  /** I in [0, 1] (see above); 0.5 when there is nothing to go on. */
  probability: number;
  /** Tokens that took part. */
  used: number;
  /** Enough training to trust the result (MIN_TRAINED of each class). */
  trained: boolean;
  /** The strongest tokens' f(w), for the header: most spammy and most hammy few. */
  strongest: Array<{ token: string; f: number }>;
}

const STRENGTH = 0.45;
const UNKNOWN = 0.5;
const MIN_DISTANCE = 0.1;
const MAX_DISCRIMINATORS = 150;
/** Below this many messages of either class the probability is not used for verdicts. */
export const MIN_TRAINED = 10;

/** The shrunk probability f(w) of one token. */
export function tokenProbability(c: TokenCounts, t: ClassifierTotals): number {
  const n = c.ham + c.spam;
  if (n === 0) return UNKNOWN;
  const spamRatio = t.spam > 0 ? c.spam / t.spam : 0;
  const hamRatio = t.ham > 0 ? c.ham / t.ham : 0;
  const p = spamRatio + hamRatio === 0 ? UNKNOWN : spamRatio / (spamRatio + hamRatio);
  return (STRENGTH * UNKNOWN + n * p) / (STRENGTH + n);
}

/**
 * The chi-squared survival function Q(x², 2v) for even degrees of freedom 2v, in closed form:
 * e^(-m) Σ_{i<v} m^i / i!  with m = x²/2 (SpamBayes's chi2Q).
 */
export function chi2Q(x2: number, dof: number): number {
  const m = x2 / 2;
  let sum = Math.exp(-m);
  let term = sum;
  for (let i = 1; i < dof / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/** Classifies one message's tokens given their counts (a missing token counts 0/0). */
export function classify(tokens: readonly string[], counts: (token: string) => TokenCounts | undefined, totals: ClassifierTotals): Classification {
  const scored: Array<{ token: string; f: number; d: number }> = [];
  for (const token of tokens) {
    const c = counts(token);
    if (!c) continue;
    const f = tokenProbability(c, totals);
    const d = Math.abs(f - UNKNOWN);
    if (d >= MIN_DISTANCE) scored.push({ token, f, d });
  }
  scored.sort((a, b) => b.d - a.d || (a.token < b.token ? -1 : 1));
  const chosen = scored.slice(0, MAX_DISCRIMINATORS);
  const trained = totals.ham >= MIN_TRAINED && totals.spam >= MIN_TRAINED;
  if (chosen.length === 0) return { probability: UNKNOWN, used: 0, trained, strongest: [] };
  // Sums of logs instead of products: 150 factors near 0 would underflow.
  let lnF = 0;
  let lnNotF = 0;
  for (const c of chosen) {
    const f = Math.min(Math.max(c.f, 1e-6), 1 - 1e-6);
    lnF += Math.log(f);
    lnNotF += Math.log(1 - f);
  }
  const n = chosen.length;
  const spamminess = 1 - chi2Q(-2 * lnNotF, 2 * n);
  const hamminess = 1 - chi2Q(-2 * lnF, 2 * n);
  const probability = (1 + spamminess - hamminess) / 2;
  const strongest = chosen.slice(0, 6).map(({ token, f }) => ({ token, f: Math.round(f * 1000) / 1000 }));
  return { probability, used: n, trained, strongest };
}

/**
 * A 52-bit hash of a token (FNV-1a twice with different offsets, combined), a safe integer for
 * SQLite INTEGER columns. Collisions merge two tokens' counts: at a few million tokens per
 * account the chance of any given token colliding stays below one in a billion.
 */
export function tokenHash(token: string): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 13);
  }
  return (a >>> 0) * 0x100000 + ((b >>> 0) & 0xfffff);
}

/** An in-memory model (tests, the benchmark, and the shape the SQLite store keeps). */
export class MemoryModel {
  readonly counts = new Map<number, TokenCounts>();
  readonly totals: ClassifierTotals = { ham: 0, spam: 0 };

  /** Adds (sign 1) or removes (sign -1) one message of this class. */
  train(tokens: readonly string[], cls: "ham" | "spam", sign: 1 | -1 = 1): void {
    this.totals[cls] = Math.max(0, this.totals[cls] + sign);
    for (const t of tokens) {
      const h = tokenHash(t);
      const c = this.counts.get(h) ?? { ham: 0, spam: 0 };
      c[cls] = Math.max(0, c[cls] + sign);
      if (c.ham === 0 && c.spam === 0) this.counts.delete(h);
      else this.counts.set(h, c);
    }
  }

  classify(tokens: readonly string[]): Classification {
    return classify(tokens, (t) => this.counts.get(tokenHash(t)), this.totals);
  }
}
