// When a check's state counts as changed (issue 8 §3). Pure: the watcher keeps the state in the
// database (history.ts) and feeds every run through here.
//
// A new status must hold for `confirmRuns` consecutive runs before it becomes the confirmed
// status; only a change of the confirmed status alerts. A zone that flaps (fail, ok, fail, ok)
// never holds long enough, so it never alerts, and a confirmed state that briefly blips and
// comes back does not alert twice. The first confirmed status of a check that starts ok is not
// news and does not alert; a first confirmed warn/fail/unknown does.
import type { CheckStatus } from "../identity.ts";

export interface CheckTrack {
  /** The status that last held for confirmRuns runs (null: none yet). */
  confirmed: CheckStatus | null;
  /** The status of the current streak and its length. */
  streakStatus: CheckStatus;
  streak: number;
  /** When the confirmed status began (ms). */
  since: number;
}

export interface Transition {
  from: CheckStatus | null;
  to: CheckStatus;
}

export function observe(prev: CheckTrack | undefined, status: CheckStatus, confirmRuns: number, now: number): { track: CheckTrack; transition?: Transition } {
  const streak = prev && prev.streakStatus === status ? prev.streak + 1 : 1;
  const track: CheckTrack = { confirmed: prev?.confirmed ?? null, streakStatus: status, streak, since: prev?.since ?? now };
  if (streak >= confirmRuns && track.confirmed !== status) {
    const from = track.confirmed;
    track.confirmed = status;
    track.since = now;
    if (from === null && status === "ok") return { track };
    return { track, transition: { from, to: status } };
  }
  return { track };
}
