// One IMAP session: its state, its selected mailbox view, and the command boundary.
//
// Invariants (each has a test under test/imap/):
//  1. UIDs are strictly ascending in a mailbox and never reused: UIDNEXT is persisted by the
//     store; DELETE then CREATE of a name gives a new UIDVALIDITY (RFC 9051 §2.3.1.1).
//  2. Every append, flag change and expunge raises HIGHESTMODSEQ in the same transaction (the
//     store's contract); expunges leave tombstones kept for the mailbox's life, so VANISHED
//     (EARLIER) has no horizon other than DELETE; UNCHANGEDSINCE answers [MODIFIED] (RFC 7162).
//  3. No EXPUNGE (or VANISHED) response is sent during FETCH, STORE or SEARCH (RFC 3501 §7.4.1,
//     RFC 9051 §7.5.1): message numbers only shift at NOOP, CHECK, IDLE, EXPUNGE, CLOSE, the
//     UID commands, COPY/MOVE and other commands that are not those three. A message another
//     session expunged stays addressable until then; FETCH answers OK [EXPUNGEISSUED] with NIL
//     for its content (RFC 2180 §4.1.3), STORE/SEARCH/COPY/MOVE skip it: never NO. Commands
//     that address messages first announce new messages (EXISTS may be sent at any time), so a
//     UID learnt elsewhere (APPENDUID, COPYUID) is usable at once; flag updates follow at the
//     end of the command. With new messages come `* n RECENT` (IMAP4rev1, recent.ts) and, when
//     a keyword first appears, FLAGS and PERMANENTFLAGS (RFC 3501 §7.2.6).
//  4. Sessions on one mailbox see each other's changes at those points: every writer publishes
//     on the ChangeBus, only sessions with that mailbox selected listen, and a notification
//     only says "look again" (the view re-reads from its HIGHESTMODSEQ). IDLE is event-driven:
//     no timer per connection; the server's one sweep sends keepalives and logs idle sessions
//     out (RFC 9051 §5.4: at least 30 minutes).
//  5. One command runs at a time per session; output waits for the socket to drain (writes
//     await), so a client that stops reading stops its own session, never server memory.
//  6. Mailbox names are NFC with "/" as delimiter and INBOX case-insensitive (mutf7.ts);
//     quota is enforced on APPEND, COPY and MOVE with [OVERQUOTA] (RFC 9208).
//  7. Passwords are never logged; failed logins are rate-limited per IP and per account.
import type { Logger } from "../log/logger.ts";
import type { BlobWriter, UserRecord } from "../store/types.ts";
import type { Command } from "./protocol/commands.ts";
import type { ProtocolMode, ResponseCode } from "./protocol/response.ts";
import { existsResponse, expungeResponse, flagsResponse, recentResponse, tagged, untaggedStatus, vanishedResponse } from "./protocol/response.ts";
import type { ResponseChunk } from "./protocol/wire-values.ts";
import { ImapError, fromStoreError } from "./errors.ts";
import { StoreError } from "../store/errors.ts";
import type { ImapDeps, ImapLimits, ImapListenerSpec } from "./types.ts";
import { MailboxView } from "./mailbox-view.ts";
import { COMMANDS } from "./commands/index.ts";
import { SYSTEM_FLAGS, flagFetchResponses } from "./fetch.ts";
import { AlreadyAnswered } from "./commands/starttls.ts";
import { StatusCache } from "./status-cache.ts";
import { recentClaims } from "./recent.ts";

export type SessionState =
  | { kind: "not-authenticated" }
  | { kind: "authenticated"; user: UserRecord }
  | { kind: "selected"; user: UserRecord; view: MailboxView }
  | { kind: "logout" };

export type StateKind = SessionState["kind"];

/** What the session needs from its connection. */
export interface Transport {
  write(chunks: ResponseChunk[]): Promise<void>;
  /** The next continuation line (AUTHENTICATE response, IDLE's DONE); null when the client left. */
  readLine(): Promise<string | null>;
  /** RFC 9051 §6.2.1: after the tagged OK, negotiate TLS on the same socket. */
  startTls(): Promise<void>;
  /** RFC 4978: after the tagged OK, both directions are DEFLATE streams. */
  startCompression(): void;
  readonly compressed: boolean;
  readonly tls: boolean;
  readonly remoteAddress: string;
  readonly listener: ImapListenerSpec;
}

export class Session {
  readonly deps: ImapDeps;
  readonly limits: ImapLimits;
  readonly log: Logger;
  readonly t: Transport;
  state: SessionState = { kind: "not-authenticated" };
  mode: ProtocolMode = { rev2: false, utf8: false };
  /** RFC 5161 ENABLEd extensions. */
  enabled = new Set<string>();
  /** RFC 7162 §3.1: CONDSTORE becomes active with ENABLE or the first CONDSTORE-ish command. */
  condstore = false;
  /** RFC 5182 SEARCHRES: UIDs saved by SEARCH RETURN (SAVE). */
  saved: number[] | null = null;
  idling = false;
  /** Set by the connection registry: called when a user logs in (connection caps). */
  onLogin: (user: UserRecord) => ImapError | null = () => null;
  #unsubscribe: (() => void) | null = null;
  #dirty = false;
  /** catchUp() read flag changes that the end of the command must still announce. */
  #flagsPending = false;
  /** The `* n RECENT` count last sent (IMAP4rev1 only). */
  #recentSent = 0;
  /** This command has reported expunges (the tagged OK then carries HIGHESTMODSEQ with QRESYNC). */
  #expungedInCommand = false;
  #idleQueue: Promise<void> = Promise.resolve();
  /** APPEND literals being streamed into temporary blobs, by the reader's stream id. */
  #streams = new Map<number, BlobWriter>();
  /** Streamed literals whose temporary blob failed (takeStream reports it). */
  #streamFailures = new Map<number, Error>();

  /** Shared by the server's sessions (status-cache.ts). */
  readonly statusCache: StatusCache;

  constructor(deps: ImapDeps, limits: ImapLimits, log: Logger, t: Transport, statusCache: StatusCache = new StatusCache(100)) {
    this.deps = deps;
    this.statusCache = statusCache;
    this.limits = limits;
    this.log = log;
    this.t = t;
  }

  get qresync(): boolean {
    return this.enabled.has("QRESYNC");
  }

  user(): UserRecord {
    if (this.state.kind === "authenticated" || this.state.kind === "selected") return this.state.user;
    throw new ImapError("BAD", "Not authenticated");
  }

  view(): MailboxView {
    if (this.state.kind === "selected") return this.state.view;
    throw new ImapError("BAD", "No mailbox selected");
  }

  send(chunks: ResponseChunk[] | null): Promise<void> {
    return chunks ? this.t.write(chunks) : Promise.resolve();
  }

  /** Runs one parsed command: state check, handler, pending updates, tagged response. */
  async run(cmd: Command): Promise<void> {
    const entry = COMMANDS[cmd.name];
    if (!entry.states.includes(this.state.kind)) {
      const why = this.state.kind === "not-authenticated" ? "Log in first" : this.state.kind === "selected" || entry.states.includes("selected") ? "Select a mailbox first" : "Not allowed now";
      await this.send(tagged(cmd.tag, "BAD", `${cmd.name}: ${why}`));
      return;
    }
    let result: { text: string; code?: ResponseCode | null } | void;
    this.#expungedInCommand = false;
    try {
      // Commands that address messages first catch up with changes made elsewhere (EXISTS and
      // flag updates; EXPUNGE only where allowed), so a UID the client learnt from APPENDUID or
      // COPYUID in another session is known here too, as in Dovecot.
      if (this.state.kind === "selected" && ADDRESSING.has(cmd.name)) await this.#catchUp();
      result = await entry.run(this, cmd);
    } catch (e) {
      this.abortStreams();
      if (e instanceof AlreadyAnswered) return;
      const err = e instanceof ImapError ? e : fromStoreError(e);
      if (err) {
        if (!err.userFault) this.log.warn({ err: e, cmd: cmd.name }, "imap command failed");
        await this.announce(cmd, false, () => tagged(cmd.tag, err.status, err.message, err.code));
        return;
      }
      this.log.error({ err: e, cmd: cmd.name }, "imap command crashed");
      await this.send(tagged(cmd.tag, "NO", "Internal error", { code: "SERVERBUG" }));
      return;
    }
    if (this.state.kind === "logout") {
      await this.send(tagged(cmd.tag, "OK", result?.text ?? "done", result?.code));
      return;
    }
    // The pending updates and the tagged OK go out in one write.
    await this.announce(cmd, false, () => {
      let code = result?.code;
      // RFC 7162 §3.2.7, §3.2.10: expunges carry no mod-sequence, so with QRESYNC the tagged OK
      // of a command that reported some (VANISHED) gives the mailbox's new HIGHESTMODSEQ, as
      // Dovecot does; EXPUNGE and MOVE put their own.
      if (!code && this.#expungedInCommand && this.qresync && this.state.kind === "selected") code = { code: "HIGHESTMODSEQ", value: this.state.view.modseq };
      return tagged(cmd.tag, "OK", result?.text ?? `${cmd.name} completed`, code);
    });
  }

  /**
   * A CONDSTORE enabling command (RFC 7162 §3.1): from now on MODSEQ goes with FETCH and the
   * HIGHESTMODSEQ code with SELECT. The first one issued while a mailbox is selected also sends
   * `* OK [HIGHESTMODSEQ n]` (RFC 7162 §3.1, §3.1.2.1), as Dovecot does; a SELECT that already
   * carried HIGHESTMODSEQ (SELECT ... (CONDSTORE)) has said it.
   */
  async enableCondstore(): Promise<void> {
    if (this.condstore) return;
    this.condstore = true;
    if (this.state.kind === "selected") {
      await this.send(untaggedStatus("OK", "Highest", { code: "HIGHESTMODSEQ", value: this.state.view.modseq }));
    }
  }

  /** Does this session show \Recent (IMAP4rev1; RFC 9051 Appendix E drops it from IMAP4rev2)? */
  get showsRecent(): boolean {
    return !this.mode.rev2;
  }

  /**
   * RFC 3501 §2.3.2: take the view's messages nobody has been told about yet as \Recent here.
   * Read-write sessions claim them (no other session will see them as recent); EXAMINE (RFC
   * 3501 §6.3.2) shows what is still unclaimed and claims nothing. Returns the count to report.
   */
  async claimRecent(view: MailboxView): Promise<number> {
    if (!this.showsRecent) return 0;
    const claims = recentClaims(this.deps.store);
    const last = view.lastHeldUid();
    if (view.readOnly) {
      const h = await claims.horizon(view.userId, view.mailboxId, view.uidValidity);
      view.addRecent(last > h ? [h + 1, last] : null);
    } else {
      view.addRecent(await claims.claim(view.userId, view.mailboxId, view.uidValidity, last, this.log));
    }
    return view.recentCount();
  }

  /** SELECT/EXAMINE reported this many \Recent messages. */
  recentReported(n: number): void {
    this.#recentSent = n;
  }

  /** `* n RECENT` when the count changed since it was last sent (RFC 3501 §7.3.2). */
  #recentUpdate(view: MailboxView): ResponseChunk[] {
    if (!this.showsRecent) return [];
    const n = view.recentCount();
    if (n === this.#recentSent) return [];
    this.#recentSent = n;
    return recentResponse(this.mode, n) ?? [];
  }

  /** RFC 3501 §7.2.6: `* FLAGS` and `* OK [PERMANENTFLAGS]` again when a new keyword appeared. */
  keywordUpdate(view: MailboxView): ResponseChunk[] {
    const kw = view.takeKeywords();
    if (!kw) return [];
    const flags = [...SYSTEM_FLAGS, ...kw];
    const out = [...flagsResponse(this.mode, flags)];
    if (!view.readOnly) out.push(...untaggedStatus("OK", "Flags permitted", { code: "PERMANENTFLAGS", flags: [...flags, "\\*"] }));
    return out;
  }

  /** Subscribe to the change bus for the newly selected mailbox (and leave the old one). */
  watch(view: MailboxView | null): void {
    // RFC 5182 §2.1: the saved search result does not survive a change of selected mailbox.
    this.saved = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#dirty = false;
    if (view) this.#unsubscribe = this.deps.changeBus.subscribe(view.mailboxId, this.#onChange);
  }

  /** Tell the other sessions on a mailbox to look again. */
  publish(mailboxId: number): void {
    this.deps.changeBus.publish(mailboxId, this.#onChange);
    if (this.state.kind === "selected" && this.state.view.mailboxId === mailboxId) this.#dirty = true;
  }

  #idleBusy = false;
  #idleAgain = false;

  #onChange = (): void => {
    this.#dirty = true;
    if (this.idling) this.#kickIdle();
  };

  /**
   * One IDLE update at a time; notifications that arrive meanwhile merge into one more pass, so
   * a client that stops reading costs one pending write, not one per change (invariant 5).
   */
  #kickIdle(): void {
    if (this.#idleBusy) {
      this.#idleAgain = true;
      return;
    }
    this.#idleBusy = true;
    this.#idleQueue = (async () => {
      do {
        this.#idleAgain = false;
        await this.#idleUpdate();
      } while (this.#idleAgain && this.idling);
      this.#idleBusy = false;
    })();
  }

  async #idleUpdate(): Promise<void> {
    if (!this.idling) return;
    try {
      await this.announce(null);
    } catch (e) {
      this.log.warn({ err: e }, "idle update failed");
    }
  }

  /**
   * Sends what changed in the selected mailbox, if anything: EXISTS, FETCH FLAGS, and EXPUNGE
   * (or VANISHED with QRESYNC) unless the command forbids it (invariant 3). cmd null: IDLE.
   * True when it reported expunges. `tail` (the tagged response) is written after the updates,
   * in the same write.
   */
  async announce(cmd: Command | null, force = false, tail?: () => ResponseChunk[]): Promise<boolean> {
    if (this.state.kind !== "selected") {
      if (tail) await this.send(tail());
      return false;
    }
    const view = this.state.view;
    const mayExpunge = cmd === null || expungeAllowed(cmd);
    if (!this.#dirty && !force && !this.#flagsPending && !view.hasNewKeywords() && !(mayExpunge && view.hasGone())) {
      if (tail) await this.send(tail());
      return false;
    }
    if (this.#dirty || force) {
      this.#dirty = false;
      await view.refresh(this.deps.store);
      await this.claimRecent(view);
    }
    const out: ResponseChunk[] = [];
    let expunged = false;
    if (mayExpunge) {
      const gone = view.takeExpunged();
      if (gone.length) {
        expunged = true;
        this.#expungedInCommand = true;
        if (this.qresync) out.push(...(vanishedResponse(gone.map((g) => g.uid), false) ?? []));
        else for (const g of gone) out.push(...expungeResponse(g.seq));
      }
    }
    const added = view.takeAdded();
    if (added) out.push(...existsResponse(view.exists));
    out.push(...this.#recentUpdate(view));
    out.push(...this.keywordUpdate(view));
    this.#flagsPending = false;
    const flagged = view.takeFlagChanges();
    if (flagged.length) out.push(...flagFetchResponses(this, view, flagged));
    if (tail) out.push(...tail());
    if (out.length) await this.send(out);
    return expunged;
  }

  /** A chunk of a streamed APPEND literal: written to a temporary blob (awaits back-pressure). */
  async streamData(id: number, bytes: Buffer): Promise<void> {
    // A literal whose temporary blob could not be written (disk full, I/O error): the rest of
    // its bytes are read and dropped, so the stream stays in step, and APPEND answers NO.
    if (this.#streamFailures.has(id)) return;
    let w = this.#streams.get(id);
    if (!w) {
      w = this.deps.blobs.create();
      this.#streams.set(id, w);
    }
    try {
      await w.write(bytes);
    } catch (e) {
      this.log.warn({ err: e }, "imap APPEND literal could not be stored");
      this.#streams.delete(id);
      this.#streamFailures.set(id, e as Error);
      void w.abort().catch(() => undefined);
    }
  }

  /** The blob writer of a finished streamed literal (APPEND takes it). */
  takeStream(id: number): BlobWriter | null {
    const failed = this.#streamFailures.get(id);
    if (failed) {
      this.#streamFailures.delete(id);
      // An "io" StoreError: NO [UNAVAILABLE], a temporary failure (fromStoreError).
      throw new StoreError("io", `storing the message: ${failed.message}`, { cause: failed });
    }
    const w = this.#streams.get(id) ?? null;
    this.#streams.delete(id);
    // A zero-length literal has no data events: give it an empty writer.
    return w ?? this.deps.blobs.create();
  }

  /** Drop temporary blobs of a command that failed or was refused. */
  abortStreams(): void {
    for (const w of this.#streams.values()) void w.abort().catch(() => undefined);
    this.#streams.clear();
    this.#streamFailures.clear();
  }

  /** IDLE ended: wait for updates being written, so the tagged OK comes after them. */
  async endIdle(): Promise<void> {
    this.idling = false;
    await this.#idleQueue;
  }

  /**
   * Before a command that addresses messages: read what changed and announce new messages only.
   * Flag changes wait for the end of the command (its own FETCH responses may already carry
   * them, and a client must not see one message's FETCH twice in a FETCH's answer).
   */
  async #catchUp(): Promise<void> {
    if (this.state.kind !== "selected" || !this.#dirty) return;
    const view = this.state.view;
    this.#dirty = false;
    await view.refresh(this.deps.store);
    await this.claimRecent(view);
    this.#flagsPending = true;
    const added = view.takeAdded();
    const out = added ? [...existsResponse(view.exists), ...this.#recentUpdate(view)] : [];
    out.push(...this.keywordUpdate(view));
    if (out.length) await this.send(out);
  }

  /** Called by the server's sweep while the session idles. */
  keepalive(): Promise<void> {
    return this.send(untaggedStatus("OK", "Still here"));
  }

  close(): void {
    this.watch(null);
    this.idling = false;
    this.abortStreams();
  }
}

const ADDRESSING = new Set(["FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE"]);

/** RFC 3501 §7.4.1: no EXPUNGE while responding to FETCH, STORE or SEARCH (UID forms excepted). */
function expungeAllowed(cmd: Command): boolean {
  if (cmd.name === "FETCH" || cmd.name === "STORE" || cmd.name === "SEARCH") return cmd.uid;
  return true;
}
