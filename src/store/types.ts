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
