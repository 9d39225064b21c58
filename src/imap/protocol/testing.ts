// Test helpers for the protocol core (imported by *.test.ts only): drive a CommandReader over
// chunks with a literal policy, and record what a session would see as a plain transcript so
// that different splits of the same input can be compared.

import { CommandReader, decideLiteral } from './reader.ts';
import type { LiteralAnnouncement, ReaderOptions } from './reader.ts';
import { parseCommand } from './command-parser.ts';
import type { ParseOptions } from './command-parser.ts';
import { ImapSyntaxError } from './errors.ts';

export type Policy = (ann: LiteralAnnouncement) => 'inline' | 'stream' | 'reject';

export const defaultPolicy: Policy = (ann) => {
  const d = decideLiteral(ann);
  return d.action;
};

export interface DriveOptions extends ReaderOptions, ParseOptions {
  policy?: Policy;
  /** Cap on events, so a bug that loops shows up as a failure instead of a hang. */
  maxEvents?: number;
}

function jsonable(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `${v}n`;
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
    return 'bytes:' + Buffer.from((v as { data: number[] }).data).toString('latin1');
  }
  return v;
}

/** Feed `chunks` one after another and return the transcript. */
export function drive(chunks: Uint8Array[], opts: DriveOptions = {}): string[] {
  const reader = new CommandReader(opts);
  const policy = opts.policy ?? defaultPolicy;
  const out: string[] = [];
  const streams = new Map<number, Buffer[]>();
  let events = 0;
  const maxEvents = opts.maxEvents ?? 100_000;
  const pump = () => {
    for (;;) {
      if (++events > maxEvents) throw new Error('reader produced too many events');
      const ev = reader.next();
      switch (ev.kind) {
        case 'need-more':
          return;
        case 'literal': {
          const d = policy(ev);
          out.push(`literal ${ev.tag} ${ev.command} ${ev.size}${ev.sync ? '' : '+'}${ev.binary ? ' binary' : ''} -> ${d}`);
          if (d === 'reject') reader.rejectLiteral();
          else reader.acceptLiteral(d);
          break;
        }
        case 'literal-data': {
          const list = streams.get(ev.id) ?? [];
          list.push(Buffer.from(ev.bytes));
          streams.set(ev.id, list);
          break;
        }
        case 'literal-end':
          out.push(`streamed ${ev.id} ${Buffer.concat(streams.get(ev.id) ?? []).toString('latin1')}`);
          streams.delete(ev.id);
          break;
        case 'line':
          out.push(`line ${ev.text}`);
          break;
        case 'error':
          out.push(`error ${ev.error.tag} ${ev.error.code}${ev.error.fatal ? ' fatal' : ''}`);
          if (ev.error.fatal) return;
          break;
        case 'command':
          try {
            const cmd = parseCommand(ev.frame, opts);
            out.push(`command ${JSON.stringify(cmd, jsonable)}`);
            if (cmd.name === 'IDLE' || (cmd.name === 'AUTHENTICATE' && cmd.initialResponse === null)) reader.expectLine();
          } catch (err) {
            if (!(err instanceof ImapSyntaxError)) throw err;
            out.push(`bad ${err.tag} ${err.code}`);
          }
          break;
      }
    }
  };
  for (const c of chunks) {
    reader.push(c);
    pump();
  }
  pump();
  if (reader.midCommand) out.push('incomplete');
  return out;
}

/** Every split of `input` into two chunks, plus one octet at a time. */
export function* splits(input: Buffer): Generator<Buffer[]> {
  for (let k = 0; k <= input.length; k++) yield [input.subarray(0, k), input.subarray(k)];
  yield Array.from(input, (b) => Buffer.from([b]));
}

/** Parse a single complete command given as text (literals inline); throws ImapSyntaxError. */
export function parseText(text: string, opts: DriveOptions = {}) {
  const reader = new CommandReader(opts);
  reader.push(Buffer.from(text, 'utf8'));
  for (;;) {
    const ev = reader.next();
    if (ev.kind === 'literal') reader.acceptLiteral('inline');
    else if (ev.kind === 'command') return parseCommand(ev.frame, opts);
    else if (ev.kind === 'error') throw ev.error;
    else if (ev.kind === 'need-more') throw new Error(`incomplete command: ${JSON.stringify(text)}`);
  }
}
