// Grammar compatibility with a real client library: imapflow talks to a scripted responder on
// loopback built only from this protocol core (reader, parser, builders). Every command imapflow
// chooses to send must parse, and imapflow must understand every response we build. This is not
// the server (no store, canned answers); it checks the wire formats in both directions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import { CommandReader, decideLiteral } from './reader.ts';
import { parseCommand } from './command-parser.ts';
import { ImapSyntaxError } from './errors.ts';
import type { Command } from './commands.ts';
import {
  REV1, capabilityResponse, continuation, enabledResponse, idResponse, listResponse, namespaceResponse,
  quotaResponse, quotaRootResponse, searchResults, selectResponses, statusResponse, tagged, untaggedStatus,
} from './response.ts';
import { fetchResponse } from './fetch-response.ts';
import type { BodyStructure, Envelope, FetchValue } from './fetch-response.ts';
import type { ResponseChunk } from './wire-values.ts';
import { toBuffer } from './wire-values.ts';

const CAPS = ['IMAP4rev1', 'LITERAL+', 'ID', 'ENABLE', 'IDLE', 'UIDPLUS', 'MOVE', 'CONDSTORE', 'QUOTA', 'SPECIAL-USE', 'LIST-STATUS', 'ESEARCH', 'UNSELECT', 'NAMESPACE'];
const MESSAGE = Buffer.from('From: Alice <alice@example.org>\r\nSubject: Grüße\r\nMessage-ID: <m1@example.org>\r\n\r\nHello\r\n');
const ENVELOPE: Envelope = {
  date: 'Mon, 7 Feb 1994 21:52:25 -0800', subject: 'Grüße',
  from: [{ name: 'Alice', adl: null, mailbox: 'alice', host: 'example.org' }],
  sender: [{ name: 'Alice', adl: null, mailbox: 'alice', host: 'example.org' }],
  replyTo: [{ name: 'Alice', adl: null, mailbox: 'alice', host: 'example.org' }],
  to: [{ name: null, adl: null, mailbox: 'bob', host: 'example.org' }, { name: 'Carol "C"', adl: null, mailbox: 'carol', host: 'example.org' }],
  cc: null, bcc: null, inReplyTo: null, messageId: '<m1@example.org>',
};
const STRUCTURE: BodyStructure = {
  type: 'multipart', subtype: 'MIXED', params: [['BOUNDARY', 'b1']], disposition: null, language: null, location: null,
  parts: [
    { type: 'TEXT', subtype: 'PLAIN', params: [['CHARSET', 'UTF-8']], id: null, description: null, encoding: '8BIT', size: 6, lines: 1, md5: null, disposition: null, language: null, location: null },
    { type: 'APPLICATION', subtype: 'PDF', params: [['NAME', 'a.pdf']], id: null, description: null, encoding: 'BASE64', size: 100, md5: null, disposition: { type: 'attachment', params: [['FILENAME', 'a.pdf']] }, language: null, location: null },
  ],
};

function respond(cmd: Command): ResponseChunk[] {
  const out: ResponseChunk[] = [];
  const ok = (text = 'done', code?: Parameters<typeof tagged>[3]) => out.push(...tagged(cmd.tag, 'OK', text, code));
  switch (cmd.name) {
    case 'CAPABILITY':
      out.push(...capabilityResponse(CAPS));
      break;
    case 'LOGIN':
      ok('logged in', { code: 'CAPABILITY', capabilities: CAPS });
      return out;
    case 'ID':
      out.push(...idResponse(REV1, [['name', 'responder']]));
      break;
    case 'ENABLE':
      out.push(...enabledResponse(cmd.capabilities.filter((c) => c === 'CONDSTORE')));
      break;
    case 'NAMESPACE':
      out.push(...namespaceResponse(REV1, [{ prefix: '', delimiter: '/' }], [], []));
      break;
    case 'LIST':
    case 'LSUB':
      out.push(...listResponse(REV1, { name: 'INBOX', attributes: ['\\HasNoChildren'], delimiter: '/' }, cmd.name));
      out.push(...listResponse(REV1, { name: 'Sent Items', attributes: ['\\HasNoChildren', '\\Sent'], delimiter: '/' }, cmd.name));
      out.push(...listResponse(REV1, { name: '台北', attributes: ['\\HasNoChildren'], delimiter: '/' }, cmd.name));
      if (cmd.name === 'LIST' && cmd.returns.status) out.push(...statusResponse(REV1, 'INBOX', cmd.returns.status.map((k) => [k, 1] as [typeof k, number])));
      break;
    case 'STATUS':
      out.push(...statusResponse(REV1, cmd.mailbox, cmd.items.map((k) => [k, k === 'UIDNEXT' ? 2 : 1] as [typeof k, number])));
      break;
    case 'SELECT':
    case 'EXAMINE':
      out.push(...selectResponses(REV1, {
        name: cmd.mailbox, flags: ['\\Seen', '\\Deleted'], permanentFlags: ['\\Seen', '\\Deleted', '\\*'], exists: 1, recent: 0,
        firstUnseen: 1, uidValidity: 77, uidNext: 2, highestModseq: 5n, condstore: true,
      }));
      ok('selected', { code: cmd.name === 'SELECT' ? 'READ-WRITE' : 'READ-ONLY' });
      return out;
    case 'FETCH': {
      const vals: FetchValue[] = [];
      for (const a of cmd.atts) {
        if (a.kind === 'UID') vals.push({ kind: 'UID', uid: 1 });
        else if (a.kind === 'FLAGS') vals.push({ kind: 'FLAGS', flags: ['\\Seen', '$Forwarded'] });
        else if (a.kind === 'ENVELOPE') vals.push({ kind: 'ENVELOPE', envelope: ENVELOPE });
        else if (a.kind === 'BODYSTRUCTURE') vals.push({ kind: 'BODYSTRUCTURE', structure: STRUCTURE });
        else if (a.kind === 'INTERNALDATE') vals.push({ kind: 'INTERNALDATE', date: { time: Date.UTC(2024, 0, 2, 3, 4, 5), offset: 60 } });
        else if (a.kind === 'RFC822.SIZE') vals.push({ kind: 'RFC822.SIZE', size: MESSAGE.length });
        else if (a.kind === 'MODSEQ') vals.push({ kind: 'MODSEQ', modseq: 5n });
        else if (a.kind === 'BODY[]') vals.push({ kind: 'BODY[]', section: a.section, origin: a.partial?.start ?? null, data: a.section.text === null ? MESSAGE : MESSAGE.subarray(0, 33) });
      }
      if (cmd.uid && !vals.some((v) => v.kind === 'UID')) vals.unshift({ kind: 'UID', uid: 1 });
      out.push(...fetchResponse(REV1, 1, vals));
      break;
    }
    case 'SEARCH': {
      const r = searchResults(REV1, { tag: cmd.tag, uid: cmd.uid, nums: [1], returns: cmd.returns });
      if (r) out.push(...r);
      break;
    }
    case 'STORE':
      if (!cmd.silent) out.push(...fetchResponse(REV1, 1, [{ kind: 'FLAGS', flags: cmd.flags }, ...(cmd.uid ? [{ kind: 'UID', uid: 1 } as const] : [])]));
      break;
    case 'COPY':
    case 'MOVE':
      if (cmd.name === 'MOVE') out.push(...untaggedStatus('OK', 'moved', { code: 'COPYUID', uidValidity: 78, from: [1], to: [10] }));
      ok('done', cmd.name === 'COPY' ? { code: 'COPYUID', uidValidity: 78, from: [1], to: [10] } : null);
      return out;
    case 'APPEND':
      ok('appended', { code: 'APPENDUID', uidValidity: 77, uids: [2] });
      return out;
    case 'GETQUOTAROOT':
      out.push(...quotaRootResponse(REV1, cmd.mailbox, ['']));
      out.push(...quotaResponse(REV1, '', [{ name: 'STORAGE', usage: 10, limit: 512 }]));
      break;
    case 'IDLE':
      out.push(...continuation('idling'));
      return out;
    case 'LOGOUT':
      out.push(...untaggedStatus('BYE', 'bye'));
      break;
    default:
      break;
  }
  ok();
  return out;
}

interface Seen {
  commands: string[];
  bad: string[];
  appended: Buffer[];
}

function responder(seen: Seen): net.Server {
  return net.createServer((sock) => {
    const reader = new CommandReader({ nonSyncLiterals: 'literal+' });
    let idleTag: string | null = null;
    const streams = new Map<number, Buffer[]>();
    const send = (chunks: ResponseChunk[]) => sock.write(toBuffer(chunks));
    send(untaggedStatus('OK', 'ready', { code: 'CAPABILITY', capabilities: CAPS }));
    sock.on('error', () => {});
    sock.on('data', (data) => {
      reader.push(data);
      for (;;) {
        const ev = reader.next();
        if (ev.kind === 'need-more') return;
        if (ev.kind === 'literal') {
          const d = decideLiteral(ev);
          if (d.action === 'reject') throw new Error('unexpected literal rejection');
          reader.acceptLiteral(d.action);
          if (ev.sync) send(continuation());
        } else if (ev.kind === 'literal-data') {
          streams.set(ev.id, [...(streams.get(ev.id) ?? []), Buffer.from(ev.bytes)]);
        } else if (ev.kind === 'line') {
          seen.commands.push(`line:${ev.text}`);
          if (idleTag) send(tagged(idleTag, 'OK', 'idle done'));
          idleTag = null;
        } else if (ev.kind === 'error') {
          seen.bad.push(`${ev.error.code}: ${ev.error.message}`);
          send(tagged(ev.error.tag ?? '*', 'BAD', ev.error.message));
        } else if (ev.kind === 'command') {
          let cmd: Command;
          try {
            cmd = parseCommand(ev.frame);
          } catch (err) {
            if (!(err instanceof ImapSyntaxError)) throw err;
            seen.bad.push(`${ev.frame.lines.join('{}')}: ${err.message}`);
            send(tagged(err.tag ?? '*', 'BAD', err.message));
            continue;
          }
          seen.commands.push(('uid' in cmd && cmd.uid ? 'UID ' : '') + cmd.name);
          if (cmd.name === 'APPEND') {
            for (const m of cmd.messages) seen.appended.push(m.data.kind === 'inline' ? m.data.bytes : Buffer.concat(streams.get(m.data.id) ?? []));
          }
          if (cmd.name === 'IDLE') {
            idleTag = cmd.tag;
            reader.expectLine();
          }
          send(respond(cmd));
          if (cmd.name === 'LOGOUT') sock.end();
        }
      }
    });
  });
}

test('imapflow: every command it sends parses, and it understands every response we build', async () => {
  const seen: Seen = { commands: [], bad: [], appended: [] };
  const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(100_000, 0x78)]);
  const server = responder(seen);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: 'bob smith', pass: 'p"w\\d{3}' }, logger: false, disableAutoIdle: true });
  try {
    await client.connect();
    const boxes = await client.list({ statusQuery: { messages: true, unseen: true } });
    assert.deepEqual(boxes.map((b) => b.path).sort(), ['INBOX', 'Sent Items', '台北']);
    assert.equal(boxes.find((b) => b.path === 'Sent Items')?.specialUse, '\\Sent');
    const st = await client.status('台北', { messages: true, uidNext: true, highestModseq: true });
    assert.ok(st && st.uidNext === 2);
    const mb = await client.mailboxOpen('INBOX');
    assert.equal(mb.exists, 1);
    assert.equal(mb.uidValidity, 77n);
    const msg = await client.fetchOne('1', { uid: true, flags: true, envelope: true, bodyStructure: true, internalDate: true, size: true, source: true, headers: ['subject'] });
    assert.ok(msg);
    assert.equal(msg.envelope?.subject, 'Grüße');
    assert.deepEqual(msg.envelope?.to?.map((a) => a.address), ['bob@example.org', 'carol@example.org']);
    assert.equal(msg.envelope?.to?.[1].name, 'Carol "C"');
    assert.equal(msg.bodyStructure?.type, 'multipart/mixed');
    assert.equal(msg.bodyStructure?.childNodes?.[1].disposition, 'attachment');
    assert.ok(msg.flags?.has('$Forwarded'));
    assert.equal(msg.size, MESSAGE.length);
    assert.deepEqual(msg.source, MESSAGE);
    const part = await client.fetchOne('1', { bodyParts: ['1'] }, { uid: true });
    assert.ok(part);
    const uids = await client.search({ seen: false, from: 'alice', or: [{ subject: 'Grüße' }, { body: 'x y' }], since: new Date('2024-01-01') }, { uid: true });
    assert.deepEqual(uids, [1]);
    assert.equal(await client.messageFlagsAdd('1', ['\\Seen', '$Label1']), true);
    const copied = await client.messageCopy('1', 'Sent Items');
    assert.ok(copied);
    const moved = await client.messageMove('1:*', '台北', { uid: true });
    assert.ok(moved);
    const appended = await client.append('INBOX', big, ['\\Seen'], new Date('2024-05-06T07:08:09Z'));
    assert.ok(appended);
    await client.mailboxCreate(['Archive', '2024']);
    await client.mailboxRename('Archive/2024', 'Archive/Old');
    await client.mailboxDelete('Archive/Old');
    const quota = await client.getQuota('INBOX');
    assert.ok(quota);
    const idle = client.idle();
    await new Promise((r) => setTimeout(r, 50));
    await client.noop();
    await idle;
    await client.logout();
  } finally {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  }
  assert.deepEqual(seen.bad, []);
  for (const name of ['LOGIN', 'LIST', 'STATUS', 'SELECT', 'UID FETCH', 'UID SEARCH', 'STORE', 'COPY', 'UID MOVE', 'APPEND', 'CREATE', 'RENAME', 'DELETE', 'GETQUOTAROOT', 'IDLE', 'line:DONE', 'LOGOUT']) {
    assert.ok(seen.commands.includes(name), `${name} not seen in ${seen.commands.join(', ')}`);
  }
  assert.equal(seen.appended.length, 1);
  assert.deepEqual(seen.appended[0], big);
});
