// Storage by role (STYLE.md §6): MetadataStore (transactional records) and BlobStore (message
// bodies). Every backend passes the one contract suite in src/store/contract.ts. The SQLite
// backend (src/store/sqlite/) is the default; PostgreSQL comes later behind the same interfaces.
//
// Invariants every backend keeps (RFC 9051 §2.3.1.1, RFC 7162 §3.1):
// - A mailbox's UIDNEXT is persisted and only grows: a UID is never handed out twice, even after
//   the highest message is expunged and the server restarts (UIDNEXT is never max(uid)+1).
// - Every append, flag change and expunge raises the mailbox's HIGHESTMODSEQ in the same
//   transaction; MODSEQ values are strictly increasing per mailbox.
// - A blob is referenced by message rows and queue rows; it is deleted only by the collector once
//   no row references it, and a crash at any point leaves no row without its blob.

export type Id = number;

export type Role = "admin" | "domain-admin" | "user";

export interface DomainRecord {
  id: Id;
  /** Lower-case ASCII (A-labels for IDNs). */
  name: string;
  disabled: boolean;
  createdAt: number;
}

export interface UserRecord {
  id: Id;
  domainId: Id;
  /** Lower-case local part (RFC 5321 §2.4 lets us compare local parts case-insensitively as policy). */
  localPart: string;
  /** localPart@domain, lower-case. */
  address: string;
  displayName: string;
  passwordHash: string;
  role: Role;
  /** Bytes; null means the server default from the config. */
  quotaBytes: number | null;
  disabled: boolean;
  createdAt: number;
}

export interface AliasRecord {
  id: Id;
  domainId: Id;
  /** Lower-case local part; "" for the catch-all `@domain`. */
  localPart: string;
  /** `local@domain`, or `@domain` for a catch-all. */
  address: string;
  /** Local or external addresses. */
  targets: string[];
  createdAt: number;
}

export type SpecialUse = "\\Inbox" | "\\Sent" | "\\Drafts" | "\\Trash" | "\\Junk" | "\\Archive" | "\\All" | "\\Flagged";

export interface MailboxRecord {
  id: Id;
  userId: Id;
  /** Full name with "/" as the hierarchy delimiter, NFC-normalised. "INBOX" for the inbox. */
  name: string;
  specialUse: string | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  subscribed: boolean;
  createdAt: number;
}

export interface MessageRecord {
  id: Id;
  mailboxId: Id;
  uid: number;
  modseq: number;
  flags: string[];
  /** ms since epoch (IMAP INTERNALDATE). */
  internalDate: number;
  /** RFC822.SIZE: traceHeaders bytes + blob bytes. */
  size: number;
  blobId: Id;
  /**
   * Headers this server added on delivery (Delivered-To, Received, Authentication-Results),
   * CRLF-terminated. IMAP serves them followed by the blob; the blob itself is the DATA after
   * dot-unstuffing, byte for byte.
   */
  traceHeaders: string;
}

/** A blob written to a temporary file and fsynced, not yet visible under its final name. */
export interface StagedBlob {
  /** Lower-case hex SHA-256 of the content. */
  sha256: string;
  size: number;
  /** Backend-private handle (temporary path for the file layout). */
  readonly handle: unknown;
}

export interface BlobWriter {
  /** Append bytes. Resolves when the bytes are accepted (back-pressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Flush and fsync the temporary file; the blob is not visible until a delivery commits it. */
  finish(): Promise<StagedBlob>;
  /** Remove the temporary file (client vanished, message refused). */
  abort(): Promise<void>;
}

export interface BlobStore {
  /** Start writing a new blob to a temporary file. */
  create(): BlobWriter;
  /** Read a committed blob, optionally a byte range [start, end). */
  read(blobId: Id, range?: { start: number; end: number }): Promise<NodeJS.ReadableStream>;
  readAll(blobId: Id): Promise<Buffer>;
  /**
   * Is the committed blob there and intact (its file exists, has the recorded size and, where
   * cheap, the recorded SHA-256)? null when it is; otherwise what is wrong, for the error log.
   * Readers that must answer before streaming (IMAP FETCH) ask first, so a damaged message gets
   * a NO instead of a literal cut short.
   */
  check?(blobId: Id): Promise<BlobDamage | null>;
}

export interface BlobDamage {
  blobId: Id;
  kind: "no-row" | "missing" | "size" | "digest";
  sha256?: string;
  path?: string;
  detail: string;
}

/**
 * The side of a BlobStore the DeliveryWriter and the collector drive. The file layout renames
 * staged files into a bucket directory and fsyncs that directory once per batch; a segment
 * layout would append and fsync once.
 */
export interface StagingBlobStore extends BlobStore {
  /**
   * Makes staged blobs durable under their final names; returns, in input order, each one's
   * location (which the blob row records) or the Error that kept it from being published (that
   * request alone fails). Resolves only after the directory entries are durable; rejects if that
   * cannot be ensured for the batch (directory fsync failed).
   */
  publish(staged: StagedBlob[]): Promise<Array<string | Error>>;
  /** Removes a staged blob that will not be published (dedup hit, refused message). */
  discard(staged: StagedBlob): Promise<void>;
  /** Removes a committed blob's file after its row is gone (collector). Missing is not an error. */
  remove(sha256: string, location: string): Promise<void>;
}

export interface QueueRecipientInsert {
  /** The address to deliver to (after alias expansion). */
  recipient: string;
  /** RFC 3461 §4.2 ORCPT as given, e.g. "rfc822;user@example.com". */
  orcpt?: string;
  /** RFC 3461 §4.1 NOTIFY values (e.g. ["FAILURE","DELAY"]) or ["NEVER"]. */
  notify?: string[];
}

export interface QueueInsert {
  mailFrom: string;
  recipients: QueueRecipientInsert[];
  /** RFC 3461 §4.3 RET, §4.4 ENVID. */
  ret?: "FULL" | "HDRS";
  envid?: string;
  /** Headers prepended when the message is sent on (e.g. Received, ARC set later). */
  traceHeaders: string;
  /** Who queued it: "forward" (alias to external), "submission", "dsn". */
  origin: string;
}

export interface DeliveryTarget {
  mailboxId: Id;
  traceHeaders: string;
  flags?: string[];
  internalDate?: number;
  /**
   * The owner's quota in bytes, if enforced: the request fails with StoreError "over-quota"
   * when the owner's usage plus this message would exceed it, checked inside the commit so
   * concurrent deliveries cannot overshoot together. Check userUsage at RCPT time as well
   * (452 4.2.2); this is the final guard.
   */
  quotaBytes?: number | null;
}

export interface DeliveryRequest {
  blob: StagedBlob;
  targets: DeliveryTarget[];
  queue: QueueInsert[];
}

export interface DeliveredMessage {
  mailboxId: Id;
  uid: number;
  modseq: number;
  messageId: Id;
}

export interface DeliveryResult {
  blobId: Id;
  delivered: DeliveredMessage[];
  queueIds: Id[];
}

// ---------------------------------------------------------------------------------------------
// MetadataStore: the repositories every backend implements. Every method returns a Promise so a
// networked backend (PostgreSQL) fits behind the same interface; the SQLite backend runs them
// synchronously and serialises them behind any open transaction (see sqlite/db.ts).
// Errors: methods throw StoreError (src/store/errors.ts) with a stable code.
// ---------------------------------------------------------------------------------------------

export interface NewUser {
  domainId: Id;
  /** Lower-cased by the store. */
  localPart: string;
  displayName?: string;
  passwordHash: string;
  role?: Role;
  quotaBytes?: number | null;
}

export interface NewAlias {
  domainId: Id;
  /** "" for the catch-all `@domain`. Lower-cased by the store. */
  localPart: string;
  targets: string[];
}

export interface UserUsage {
  /** Sum of RFC822.SIZE over the user's messages. */
  bytes: number;
  messages: number;
}

export interface AccountsRepo {
  /** Throws StoreError "exists" if the name is taken. */
  createDomain(name: string): Promise<DomainRecord>;
  getDomain(name: string): Promise<DomainRecord | null>;
  getDomainById(id: Id): Promise<DomainRecord | null>;
  listDomains(): Promise<DomainRecord[]>;
  setDomainDisabled(id: Id, disabled: boolean): Promise<void>;
  /** Removes the domain and its aliases; throws StoreError "in-use" while users remain. Returns false if absent. */
  removeDomain(name: string): Promise<boolean>;

  /** Throws "exists" (address taken by a user or alias) or "not-found" (no such domain). */
  createUser(user: NewUser): Promise<UserRecord>;
  getUserByAddress(address: string): Promise<UserRecord | null>;
  getUserById(id: Id): Promise<UserRecord | null>;
  /** All users, or one domain's; ordered by address. */
  listUsers(domainId?: Id): Promise<UserRecord[]>;
  updatePassword(userId: Id, passwordHash: string): Promise<void>;
  setUserDisabled(userId: Id, disabled: boolean): Promise<void>;
  setUserQuota(userId: Id, quotaBytes: number | null): Promise<void>;
  setUserRole(userId: Id, role: Role): Promise<void>;
  /**
   * Removes the user, its mailboxes and messages (blob refcounts drop; the collector frees files)
   * and its settings (userSettingKey), in one transaction.
   */
  removeUser(userId: Id): Promise<boolean>;

  /** Throws "exists" (address taken by a user or alias) or "not-found" (no such domain). */
  createAlias(alias: NewAlias): Promise<AliasRecord>;
  getAliasByAddress(address: string): Promise<AliasRecord | null>;
  listAliases(domainId?: Id): Promise<AliasRecord[]>;
  setAliasTargets(id: Id, targets: string[]): Promise<void>;
  removeAlias(address: string): Promise<boolean>;
  /** One page of users ordered by address, with their usage (one indexed query). */
  listUsersPage(q: UserPageQuery): Promise<Array<UserRecord & { usage: UserUsage }>>;
}

export type FlagMode = "replace" | "add" | "remove";

export interface FlagChange {
  uid: number;
  modseq: number;
  flags: string[];
}

export interface ExpungeResult {
  /** UIDs actually removed, ascending. */
  uids: number[];
  /** The mailbox's new HIGHESTMODSEQ (unchanged if nothing was removed). */
  modseq: number;
}

export interface MailRepo {
  /** Fresh UIDVALIDITY (never reused, even after DELETE + CREATE of the same name). Throws "exists". */
  createMailbox(userId: Id, name: string, specialUse?: string | null): Promise<MailboxRecord>;
  listMailboxes(userId: Id): Promise<MailboxRecord[]>;
  getMailbox(userId: Id, name: string): Promise<MailboxRecord | null>;
  getMailboxById(id: Id): Promise<MailboxRecord | null>;
  /** RFC 9051 §6.3.6: children ("old/…") move too. Throws "exists" / "not-found". */
  renameMailbox(userId: Id, oldName: string, newName: string): Promise<void>;
  setSubscribed(mailboxId: Id, subscribed: boolean): Promise<void>;
  setSpecialUse(mailboxId: Id, specialUse: string | null): Promise<void>;
  /** Removes the mailbox and its messages (blob refcounts drop). Returns false if absent. */
  deleteMailbox(userId: Id, name: string): Promise<boolean>;
  /** Messages with uid > sinceUid (default all), ascending by UID. */
  listMessages(mailboxId: Id, sinceUid?: number): Promise<MessageRecord[]>;
  getMessage(mailboxId: Id, uid: number): Promise<MessageRecord | null>;
  /** The messages among these UIDs that exist, ascending by UID (one query for a FETCH's set). */
  getMessages(mailboxId: Id, uids: readonly number[]): Promise<MessageRecord[]>;
  /** Messages whose MODSEQ > sinceModseq (RFC 7162 CHANGEDSINCE), ascending by UID. */
  listChangedSince(mailboxId: Id, sinceModseq: number): Promise<MessageRecord[]>;
  /**
   * Changes flags; one new MODSEQ for the operation, given to each message whose flags actually
   * changed (RFC 7162 §3.1). Unknown UIDs are ignored. Returns the changed messages.
   */
  setFlags(mailboxId: Id, uids: number[], flags: string[], mode: FlagMode): Promise<FlagChange[]>;
  /** Removes messages, records tombstones for VANISHED (RFC 7162 §3.2.5), drops blob refcounts. */
  expunge(mailboxId: Id, uids: number[]): Promise<ExpungeResult>;
  /** UIDs of messages saved into the mailbox (delivered, appended, copied, moved) before `before` (ms), ascending, at most `limit` (retention). */
  listSavedBefore(mailboxId: Id, before: number, limit: number): Promise<number[]>;
  /** UIDs expunged with MODSEQ > sinceModseq, ascending. */
  listExpunged(mailboxId: Id, sinceModseq: number): Promise<number[]>;
  /**
   * RFC 9051 §6.4.7 COPY: new UIDs in the target (ascending, in source UID order), same flags,
   * internal date, trace headers and blob (refcount + 1 each); one new MODSEQ in the target.
   * Unknown UIDs are skipped. The result carries RFC 4315 COPYUID data.
   */
  copyMessages(fromMailboxId: Id, uids: number[], toMailboxId: Id): Promise<CopyResult>;
  /** RFC 6851 MOVE: copy then expunge from the source, in one transaction. */
  moveMessages(fromMailboxId: Id, uids: number[], toMailboxId: Id): Promise<CopyResult & { expunged: ExpungeResult }>;
  /** Cheap: a stored counter kept by every delivery, expunge and delete. */
  userUsage(userId: Id): Promise<UserUsage>;
}

export interface CopyResult {
  /** The target's UIDVALIDITY. */
  uidValidity: number;
  /** [source UID, new target UID], ascending by source UID. */
  pairs: Array<[number, number]>;
  /** The target's new HIGHESTMODSEQ. */
  modseq: number;
}

export type QueueRecipientState = "pending" | "delivered" | "failed";

export interface QueueRecipientRecord {
  id: Id;
  queueId: Id;
  recipient: string;
  orcpt: string | null;
  notify: string[] | null;
  state: QueueRecipientState;
  attempts: number;
  /** ms since epoch. */
  nextAttemptAt: number;
  lastReply: string | null;
  updatedAt: number;
  /** The "delayed" DSN went out (RFC 3464 Action: delayed). */
  delayWarned: boolean;
  /** Set while a transaction's final dot is unanswered; non-null after a crash there. */
  inFlightAt: number | null;
  /** RFC 3463 enhanced status of the last outcome, e.g. "4.4.1". */
  status: string | null;
  /** The host that gave the last reply (MX host or relay). */
  remoteMta: string | null;
  /** The route of the last attempt ("direct", "local", a relay name). */
  route: string | null;
}

export interface QueueRecord {
  id: Id;
  blobId: Id;
  mailFrom: string;
  ret: "FULL" | "HDRS" | null;
  envid: string | null;
  traceHeaders: string;
  origin: string;
  createdAt: number;
  recipients: QueueRecipientRecord[];
}

/** One delivery attempt as logged for `freehold queue show`. */
export interface QueueAttempt {
  id: Id;
  queueId: Id;
  recipientId: Id | null;
  at: number;
  route: string;
  host: string | null;
  /** "delivered" | "deferred" | "failed" | "route-failed" | "in-flight-lost" | "dsn" … */
  outcome: string;
  reply: string | null;
}

export interface QueueAttemptInsert {
  recipientId: Id | null;
  route: string;
  host?: string | null;
  outcome: string;
  reply?: string | null;
}

/** The new state of one recipient after an attempt. */
export interface QueueRecipientUpdate {
  id: Id;
  state: QueueRecipientState;
  attempts: number;
  nextAttemptAt: number;
  lastReply: string | null;
  status: string | null;
  remoteMta: string | null;
  route: string | null;
  delayWarned: boolean;
}

export interface QueueRepo {
  list(): Promise<QueueRecord[]>;
  get(id: Id): Promise<QueueRecord | null>;
  /** Removes the entry and drops its blob reference. Returns false if absent. */
  remove(id: Id): Promise<boolean>;
  /** Entries with at least one pending recipient due at `now`, oldest first. */
  due(now: number, limit: number): Promise<QueueRecord[]>;
  /** The earliest next_attempt_at of any pending recipient, or null when none is pending. */
  nextDue(): Promise<number | null>;
  /** Marks recipients as awaiting the reply to the final dot (durable before the dot is sent). */
  markInFlight(recipientIds: Id[], at: number): Promise<void>;
  /** Recipients still marked in flight (after a crash), with their entries' ids. */
  listInFlight(): Promise<QueueRecipientRecord[]>;
  /**
   * In one transaction: logs the attempts, applies the updates (clearing in-flight marks), and
   * when no recipient of the entry is pending any more, removes the entry and drops its blob
   * reference. Returns whether the entry was removed.
   */
  recordOutcome(queueId: Id, updates: QueueRecipientUpdate[], attempts: QueueAttemptInsert[]): Promise<{ finished: boolean }>;
  attempts(queueId: Id): Promise<QueueAttempt[]>;
  /** Makes pending recipients due at `now` (one entry, or all when id is null); returns how many. */
  retryNow(id: Id | null, now: number): Promise<number>;
  /** One page of entries ordered by id, with their recipients. */
  page(q: QueuePageQuery): Promise<QueueRecord[]>;
}

/** A row of the blob table: where the committed file lives and how many rows reference it. */
export interface BlobRecord {
  id: Id;
  sha256: string;
  size: number;
  refcount: number;
  /** Backend-specific location (for the file layout: the bucket directory name). */
  location: string;
  createdAt: number;
}

/** One request of a group-commit batch, with the blob row it will use or create. */
export interface BatchDelivery {
  req: DeliveryRequest;
  /** Existing row to reuse (refcount + n), or a new row to insert at `location`. */
  blob: { existingId: Id } | { location: string };
}

export type BatchOutcome = { ok: true; result: DeliveryResult } | { ok: false; error: Error };

export interface BlobRepo {
  get(id: Id): Promise<BlobRecord | null>;
  /**
   * Like get, for reading a blob that a committed message or queue row references: its row is
   * committed and its sha256/location never change, so this need not wait for a group commit
   * in progress (db.ts) the way other reads do. Optional (get is used without it).
   */
  locate?(id: Id): Promise<BlobRecord | null>;
  /** Rows with id > afterId, ascending (for verification scans). */
  list(afterId: Id, limit: number): Promise<BlobRecord[]>;
  getBySha(sha256: string): Promise<BlobRecord | null>;
  /** Rows no message or queue entry references, oldest first. */
  listUnreferenced(limit: number): Promise<BlobRecord[]>;
  /** Deletes the given rows if still unreferenced (refcount 0); returns the rows deleted. */
  deleteUnreferenced(ids: Id[]): Promise<BlobRecord[]>;
  /**
   * One transaction for the whole batch; a request that fails (e.g. its mailbox vanished) is
   * rolled back alone (savepoint) and reported, the others commit.
   */
  commitBatch(items: BatchDelivery[]): Promise<BatchOutcome[]>;
}

/**
 * The settings key of a per-user value: removeUser deletes every `user.<id>.` key with the user,
 * so nothing of theirs outlives them (ids are never reused either: docs/store.md).
 */
export function userSettingKey(userId: Id, name: string): string {
  return `user.${userId}.${name}`;
}

export interface SettingsRepo {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export type AuditSource = "cli" | "api" | "session" | "token";

export interface AuditEntry {
  id: Id;
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: string | null;
  /** Through which door the change came (cli, session = web login, token = API token). */
  source: AuditSource;
  /** The domain the change belongs to (null: server-wide), so domain admins see theirs only. */
  domain: string | null;
  /** JSON of the state before and after, secrets redacted by the writer; null when none. */
  before: string | null;
  after: string | null;
}

export interface AuditAppend {
  actor: string;
  action: string;
  target: string;
  detail?: string | null;
  source?: AuditSource;
  domain?: string | null;
  before?: string | null;
  after?: string | null;
}

export interface AuditPageQuery {
  /** Entries with id < beforeId (the cursor: the last id of the previous page). */
  beforeId?: Id;
  limit: number;
  /** Only this domain's entries. */
  domain?: string;
  /** Only actions starting with this prefix ("user.", "alias.add"). */
  actionPrefix?: string;
}

/** The log is append-only: no update or delete, in the API or in SQL (triggers refuse them). */
export interface AuditRepo {
  append(entry: AuditAppend): Promise<Id>;
  /** Newest first. */
  list(limit?: number): Promise<AuditEntry[]>;
  /** Newest first, one page. */
  page(q: AuditPageQuery): Promise<AuditEntry[]>;
  /**
   * Retention (src/retention/): deletes whole entries older than `before` (ms) and, in the same
   * transaction, appends one entry recording that (action "audit.expire"). The log stays
   * append-only otherwise: no entry is ever changed. Returns how many were deleted (0: nothing
   * deleted and nothing appended).
   */
  expireBefore(before: number, actor: string): Promise<number>;
}

export interface UserPageQuery {
  domainId?: Id;
  /** Users with address > afterAddress (the cursor). */
  afterAddress?: string;
  limit: number;
  /** Only addresses containing this text. */
  contains?: string;
}

export interface QueuePageQuery {
  /** Entries with id > afterId (the cursor). */
  afterId?: Id;
  limit: number;
  /** Only entries with a recipient in this state. */
  state?: QueueRecipientState;
  /** Only entries sent by this domain's addresses (a domain admin's view). */
  senderDomain?: string;
}

/**
 * An app password (issue 9 §4): a random secret for one mail client, valid for IMAP and SMTP AUTH
 * and never for the web login. Only its hash is stored (src/accounts/app-passwords.ts).
 */
export interface AppPasswordRecord {
  id: Id;
  userId: Id;
  name: string;
  /** A short non-secret lookup key derived from the secret (app-passwords.ts appPasswordTag). */
  tag: string;
  passwordHash: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface NewAppPassword {
  userId: Id;
  name: string;
  tag: string;
  passwordHash: string;
}

export interface AppPasswordRepo {
  /** Throws "exists" (the user has one of that name) or "not-found" (no such user). */
  create(p: NewAppPassword): Promise<AppPasswordRecord>;
  get(id: Id): Promise<AppPasswordRecord | null>;
  /** A user's app passwords, oldest first. */
  list(userId: Id): Promise<AppPasswordRecord[]>;
  findByTag(userId: Id, tag: string): Promise<AppPasswordRecord[]>;
  /** Returns false if the user has no app password with that id. */
  remove(userId: Id, id: Id): Promise<boolean>;
  touch(id: Id, at: number): Promise<void>;
}

export interface IntegrityReport {
  ok: boolean;
  /** Human-readable problems: SQLite integrity_check lines, foreign-key violations, refcount drift. */
  problems: string[];
}

export interface StoreRepos {
  accounts: AccountsRepo;
  mail: MailRepo;
  queue: QueueRepo;
  blobs: BlobRepo;
  settings: SettingsRepo;
  audit: AuditRepo;
  appPasswords: AppPasswordRepo;
}

export interface MetadataStore extends StoreRepos {
  /**
   * Runs fn in one transaction (commit on resolve, rollback on throw). Inside fn use only the
   * repos passed to it: every other call on the store waits until the transaction ends (so
   * calling the outer store from fn would wait forever).
   */
  transaction<T>(fn: (tx: StoreRepos) => Promise<T> | T): Promise<T>;
  /**
   * Runs fn with repos that read committed rows only (never a write that is not yet durable)
   * and never wait for an open transaction or group commit: for re-reads whose writers publish
   * after their commit (the IMAP change bus). Reads only; its statements are not one snapshot,
   * so fn must tolerate a commit of another process between them.
   */
  readCommitted<T>(fn: (tx: StoreRepos) => Promise<T> | T): Promise<T>;
  integrityCheck(): Promise<IntegrityReport>;
  close(): Promise<void>;
}
