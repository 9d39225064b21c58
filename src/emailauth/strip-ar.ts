// RFC 8601 §5: a border MTA removes incoming Authentication-Results fields that claim to come
// from its own authserv-id, so that nobody downstream trusts a forged verdict. This is a
// streaming filter: push(chunk) returns the bytes that may go out now; only the header section
// is examined (RFC 5322 §2.1: it ends at the first empty line), the body passes untouched.
//
// A field is held back only while it could still be an Authentication-Results field we must
// drop; every other field is released as soon as its name is known. Fields whose authserv-id
// cannot be parsed are removed too (§5 lets a border MTA remove any such field), since a
// lenient reader might find our id in them.
import { Transform } from "node:stream";

/** RFC 2045 token characters (RFC 8601 §2.5: authserv-id = value = token / quoted-string). */
const TOKEN_CHAR = /[!#$%&'*+\-.0-9A-Z^_`a-z{|}~\x80-\xff]/;

const FIELD_NAME = "authentication-results";

/** A field larger than this is decided on its first bytes, so memory stays bounded. */
const DEFAULT_MAX_HELD = 64 * 1024;

/**
 * Parses the authserv-id at the start of an Authentication-Results value (the text after the
 * colon, possibly folded): `[CFWS] authserv-id [CFWS authres-version] ...`. Returns the id with
 * quoting removed, or null when there is none.
 */
export function parseAuthservId(value: string): string | null {
  let i = 0;
  const n = value.length;
  // CFWS (RFC 5322 §3.2.2): whitespace, line folds and nested comments with quoted-pairs.
  const skipCfws = (): boolean => {
    for (;;) {
      while (i < n && (value[i] === " " || value[i] === "\t" || value[i] === "\r" || value[i] === "\n")) i++;
      if (value[i] !== "(") return true;
      let depth = 0;
      while (i < n) {
        const c = value[i];
        if (c === "\\") i += 2;
        else {
          if (c === "(") depth++;
          else if (c === ")") depth--;
          i++;
          if (depth === 0) break;
        }
      }
      if (depth !== 0) return false; // unterminated comment
    }
  };
  if (!skipCfws() || i >= n) return null;
  if (value[i] === '"') {
    let out = "";
    i++;
    while (i < n && value[i] !== '"') {
      if (value[i] === "\\" && i + 1 < n) i++;
      if (value[i] !== "\r" && value[i] !== "\n") out += value[i];
      i++;
    }
    if (i >= n) return null; // unterminated quoted-string
    return out.length > 0 ? out : null;
  }
  const start = i;
  while (i < n && TOKEN_CHAR.test(value[i])) i++;
  return i > start ? value.slice(start, i) : null;
}

function sameId(a: string, b: string): boolean {
  const norm = (s: string) => s.trim().toLowerCase().replace(/\.$/, "");
  return norm(a) === norm(b);
}

/** Decides on one complete (or size-capped) header field given as raw bytes. */
export function shouldRemoveField(field: Buffer, authservId: string): boolean {
  const text = field.toString("latin1");
  const colon = text.indexOf(":");
  if (colon < 0) return false;
  if (text.slice(0, colon).replace(/[ \t]+$/, "").toLowerCase() !== FIELD_NAME) return false;
  const id = parseAuthservId(text.slice(colon + 1));
  return id === null || sameId(id, authservId);
}

/** True when `line` starts a field named Authentication-Results (name known: colon seen). */
function arName(line: Buffer): "yes" | "no" | "unknown" {
  const colon = line.indexOf(0x3a);
  if (colon < 0) return "unknown";
  return line.subarray(0, colon).toString("latin1").replace(/[ \t]+$/, "").toLowerCase() === FIELD_NAME ? "yes" : "no";
}

export interface ArStripper {
  /** Feeds bytes; returns the bytes that can be written out now. */
  push(chunk: Uint8Array): Buffer;
  /** Ends the input; returns what was still held back. */
  end(): Buffer;
  /** How many fields were removed so far. */
  readonly removed: number;
}

type FieldMode = "none" | "hold" | "pass" | "drop";

export function createArStripper(authservId: string, maxHeld = DEFAULT_MAX_HELD): ArStripper {
  let inBody = false;
  let mode: FieldMode = "none";
  let held: Buffer[] = [];
  let heldLen = 0;
  // The current physical line, not yet ended by LF.
  let partial: Buffer[] = [];
  let partialLen = 0;
  // True while the rest of an over-long line is routed by `mode` without being buffered.
  let midLine = false;
  let removed = 0;
  let out: Buffer[] = [];

  const emit = (b: Buffer) => {
    if (b.length > 0) out.push(b);
  };

  const decideHeld = () => {
    const field = Buffer.concat(held);
    if (shouldRemoveField(field, authservId)) {
      removed++;
      mode = "drop";
    } else {
      emit(field);
      mode = "pass";
    }
    held = [];
    heldLen = 0;
  };

  const finishField = () => {
    if (mode === "hold") decideHeld();
    mode = "none";
  };

  const addToField = (line: Buffer) => {
    if (mode === "pass") emit(line);
    else if (mode === "hold") {
      held.push(line);
      heldLen += line.length;
      if (heldLen > maxHeld) decideHeld();
    }
    // "drop": discard
  };

  /** Handles one physical line (with its LF, unless `early` because it grew too long). */
  const onLine = (line: Buffer, early: boolean) => {
    const first = line[0];
    if (!early && (line.length === 1 || (line.length === 2 && first === 0x0d))) {
      // The empty line that ends the header section (CRLF, or a bare LF).
      finishField();
      emit(line);
      inBody = true;
      return;
    }
    if ((first === 0x20 || first === 0x09) && mode !== "none") {
      addToField(line); // a folded continuation (RFC 5322 §2.2.3)
      return;
    }
    finishField();
    const name = arName(line);
    mode = name === "yes" ? "hold" : "pass";
    if (name === "yes") {
      held.push(line);
      heldLen = line.length;
      if (heldLen > maxHeld) decideHeld();
    } else {
      emit(line); // not Authentication-Results, or not a field at all: released at once
    }
  };

  const takePartial = (): Buffer => {
    const b = partial.length === 1 ? partial[0] : Buffer.concat(partial);
    partial = [];
    partialLen = 0;
    return b;
  };

  const feed = (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (inBody) {
        emit(chunk.subarray(i));
        return;
      }
      const nl = chunk.indexOf(0x0a, i);
      const end = nl < 0 ? chunk.length : nl + 1;
      const piece = chunk.subarray(i, end);
      i = end;
      if (midLine) {
        addToField(piece);
        if (nl >= 0) midLine = false;
        continue;
      }
      partial.push(piece);
      partialLen += piece.length;
      if (nl >= 0) onLine(takePartial(), false);
      else if (partialLen > maxHeld) {
        onLine(takePartial(), true);
        midLine = true;
      }
    }
  };

  const drain = (): Buffer => {
    // One piece (the usual case once past the header section) goes out without a copy.
    const b = out.length === 1 ? out[0] : Buffer.concat(out);
    out = [];
    return b;
  };

  return {
    push(chunk) {
      feed(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      return drain();
    },
    end() {
      if (!inBody) {
        if (partialLen > 0) onLine(takePartial(), true);
        finishField();
      }
      return drain();
    },
    get removed() {
      return removed;
    },
  };
}

/** The stripper as a node:stream Transform, for piping DATA bytes into storage. */
export function createArStripTransform(authservId: string): Transform {
  const s = createArStripper(authservId);
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      done(null, s.push(chunk));
    },
    flush(done) {
      done(null, s.end());
    },
  });
}

/** Convenience for whole buffers: the message without our forged Authentication-Results. */
export function stripAuthenticationResults(message: Buffer, authservId: string): Buffer {
  const s = createArStripper(authservId);
  return Buffer.concat([s.push(message), s.end()]);
}
