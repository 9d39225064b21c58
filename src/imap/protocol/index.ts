// The IMAP protocol core's public surface (see docs/imap-protocol.md): framing, grammar,
// response builders. Pure: no sockets, no store, no clock.

export * from './errors.ts';
export * from './reader.ts';
export * from './commands.ts';
export { parseCommand, appendMailboxBeforeLiteral } from './command-parser.ts';
export type { ParseOptions } from './command-parser.ts';
export { charsetDecoder } from './parse-search.ts';
export * from './continuation.ts';
export { formatSection } from './parse-fetch.ts';
export * from './sequence-set.ts';
export * from './datetime.ts';
export * from './wire-values.ts';
export * from './response.ts';
export * from './fetch-response.ts';
