// The script format of the differential suite (test/imap-diff/README.md has the long version).
// A file holds many scripts; each starts with "### name" and is a list of steps:
//   # text                     a comment
//   @seed MAILBOX msg[:flag...] ...   APPEND messages/<msg>.eml as $U1 (CREATE first unless INBOX),
//                              with fixed INTERNALDATEs, before the session lines run
//   @sleep MS                  wait (for another session's change to be observable)
//   C1> tag COMMAND ...        send a command on connection 1 (opened on first use), read to
//                              its tagged response or to a continuation request
//   C1: text                   send a continuation line (DONE, a SASL response, "*")
//   C1~                        collect unsolicited responses (e.g. during IDLE) for a moment
// In command lines, {msg:NAME} sends messages/NAME.eml as a synchronising literal, {msg+:NAME}
// as LITERAL+ and ~{msg:NAME} as literal8; {lit:TEXT} / {lit+:TEXT} send TEXT (with \r \n \t
// escapes) as a literal. $U1 $U2 $PW $PLAIN1 $PLAIN2 $UIDVALIDITY $HIGHESTMODSEQ $NEXTMODSEQ (the
// last UIDVALIDITY / HIGHESTMODSEQ that server sent in the script, and that plus one) are replaced.
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

export type Step =
  | { kind: "seed"; mailbox: string; messages: Array<{ name: string; flags: string[] }>; line: number }
  | { kind: "sleep"; ms: number; line: number }
  | { kind: "command"; conn: number; text: string; line: number }
  | { kind: "continue"; conn: number; text: string; line: number }
  | { kind: "collect"; conn: number; line: number };

export interface Script {
  name: string;
  file: string;
  steps: Step[];
}

export function parseScripts(text: string, file: string): Script[] {
  const out: Script[] = [];
  let cur: Script | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = raw.trimEnd();
    const where = `${file}:${i + 1}`;
    if (line.startsWith("###")) {
      cur = { name: line.slice(3).trim(), file, steps: [] };
      if (!cur.name) throw new Error(`${where}: script without a name`);
      out.push(cur);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    if (!cur) throw new Error(`${where}: line before the first "### name"`);
    let m: RegExpExecArray | null;
    if ((m = /^@seed\s+(\S+)\s+(.+)$/.exec(line))) {
      const messages = m[2].split(/\s+/).map((t) => {
        const [name, ...flags] = t.split(":");
        return { name, flags };
      });
      cur.steps.push({ kind: "seed", mailbox: m[1], messages, line: i + 1 });
    } else if ((m = /^@sleep\s+(\d+)$/.exec(line))) {
      cur.steps.push({ kind: "sleep", ms: Number(m[1]), line: i + 1 });
    } else if ((m = /^C(\d)> (.+)$/.exec(line))) {
      cur.steps.push({ kind: "command", conn: Number(m[1]), text: m[2], line: i + 1 });
    } else if ((m = /^C(\d): ?(.*)$/.exec(line))) {
      cur.steps.push({ kind: "continue", conn: Number(m[1]), text: m[2], line: i + 1 });
    } else if ((m = /^C(\d)~$/.exec(line))) {
      cur.steps.push({ kind: "collect", conn: Number(m[1]), line: i + 1 });
    } else {
      throw new Error(`${where}: cannot read ${JSON.stringify(line)}`);
    }
  }
  const seen = new Set<string>();
  for (const s of out) {
    if (seen.has(s.name)) throw new Error(`${file}: two scripts named ${s.name}`);
    seen.add(s.name);
    if (s.steps.length === 0) throw new Error(`${file}: script ${s.name} has no steps`);
  }
  return out;
}

export const DIFF_DIR = import.meta.dirname;

/** Every script under scripts/ (files ending .imap), in file then script order. */
export function loadAllScripts(dir = path.join(DIFF_DIR, "scripts")): Script[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".imap"))
    .sort();
  const all: Script[] = [];
  const names = new Set<string>();
  for (const f of files) {
    for (const s of parseScripts(readFileSync(path.join(dir, f), "utf8"), f)) {
      if (names.has(s.name)) throw new Error(`script ${s.name} defined twice (${f})`);
      names.add(s.name);
      all.push(s);
    }
  }
  return all;
}

/** Glob with "*" only, matched against whole names. */
export function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(name);
}
