// Long operations as jobs (issue 9 item 3): the caller gets an id at once and reads the state,
// progress and result later (GET /api/v1/jobs/:id, polled by the admin UI). Jobs live in memory:
// they are operations of this process (a restart ends them; their effects are in the audit log),
// kept for an hour after they end, at most MAX_KEPT. Each job belongs to the actor who started
// it; others are told "not found" (the tenant rule of every other object).
import { randomBytes } from "node:crypto";
import type { Actor } from "../accounts/authz.ts";
import type { Clock } from "../clock.ts";

export type JobState = "running" | "done" | "failed";

export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  /** 0..100 */
  progress: number;
  message: string;
  startedAt: number;
  endedAt: number | null;
  result: unknown;
  error: string | null;
}

export interface JobControl {
  progress(percent: number, message: string): void;
}

const KEEP_MS = 60 * 60 * 1000;
const MAX_KEPT = 500;

interface Job extends JobView {
  owner: string;
}

function ownerOf(actor: Actor): string {
  return actor.kind === "user" ? `user:${actor.user.id}` : actor.kind;
}

export class JobService {
  readonly #jobs = new Map<string, Job>();
  readonly #clock: Clock;
  readonly #onError: (err: unknown, kind: string) => void;

  constructor(opts: { clock: Clock; onError?: (err: unknown, kind: string) => void }) {
    this.#clock = opts.clock;
    this.#onError = opts.onError ?? (() => undefined);
  }

  /**
   * Starts `work` and returns its view at once. A failure of `work` is the job's "failed" state
   * with the error's message (service errors carry messages meant for the caller).
   */
  start(actor: Actor, kind: string, work: (ctl: JobControl) => Promise<unknown>): JobView {
    this.#prune();
    const job: Job = { id: randomBytes(9).toString("base64url"), kind, state: "running", progress: 0, message: "started", startedAt: this.#clock.now(), endedAt: null, result: null, error: null, owner: ownerOf(actor) };
    this.#jobs.set(job.id, job);
    const ctl: JobControl = {
      progress: (p, m) => {
        if (job.state !== "running") return;
        job.progress = Math.max(0, Math.min(100, Math.round(p)));
        job.message = m;
      },
    };
    // Started on the next turn, so the caller has the id before any work happens.
    setImmediate(() => {
      work(ctl).then(
        (result) => {
          Object.assign(job, { state: "done", progress: 100, message: "done", result: result ?? null, endedAt: this.#clock.now() });
        },
        (err: unknown) => {
          Object.assign(job, { state: "failed", message: "failed", error: err instanceof Error ? err.message : String(err), endedAt: this.#clock.now() });
          this.#onError(err, kind);
        },
      );
    });
    return view(job);
  }

  get(actor: Actor, id: string): JobView | null {
    const job = this.#jobs.get(id);
    return job && job.owner === ownerOf(actor) ? view(job) : null;
  }

  /** The actor's jobs, newest first. */
  list(actor: Actor): JobView[] {
    const owner = ownerOf(actor);
    return [...this.#jobs.values()].filter((j) => j.owner === owner).reverse().map(view);
  }

  #prune(): void {
    const now = this.#clock.now();
    for (const [id, j] of this.#jobs) if (j.endedAt !== null && now - j.endedAt > KEEP_MS) this.#jobs.delete(id);
    // Oldest first (Map keeps insertion order); running jobs are never dropped.
    for (const [id, j] of this.#jobs) {
      if (this.#jobs.size < MAX_KEPT) break;
      if (j.state !== "running") this.#jobs.delete(id);
    }
  }
}

function view(j: Job): JobView {
  const { owner: _owner, ...v } = j;
  return { ...v };
}
