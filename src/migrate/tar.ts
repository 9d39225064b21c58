// A streaming tar writer (POSIX.1-2001 pax interchange format, the ustar header of
// POSIX.1-1988 plus `x` extended headers): the HTTP export download (download.ts) sends the
// folder formats (mbox, Maildir) as one tar stream. Files are read chunk by chunk and yielded as
// they are read, so memory stays flat whatever the archive size. Names longer than ustar's 100
// bytes and sizes of 8 GiB or more go in a pax `x` header (`path`, `size` records, POSIX
// pax "pax Extended Header" §: "length keyword=value\n").
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";

const BLOCK = 512;
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, size: number, mtimeMs: number, type: "0" | "5" | "x", mode: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(Math.min(size, MAX_OCTAL_SIZE), 12), 124, "ascii");
  h.write(octal(Math.max(0, Math.floor(mtimeMs / 1000)), 12), 136, "ascii");
  h.write("        ", 148, "ascii"); // checksum counted as spaces
  h.write(type, 156, "ascii");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return h;
}

/** A pax record: its decimal length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function* entryHeaders(name: string, size: number, mtimeMs: number, type: "0" | "5", mode: number): Generator<Buffer> {
  const long = Buffer.byteLength(name) > 100;
  if (long || size > MAX_OCTAL_SIZE) {
    const records = Buffer.from((long ? paxRecord("path", name) : "") + (size > MAX_OCTAL_SIZE ? paxRecord("size", String(size)) : ""), "utf8");
    yield header("PaxHeaders/" + Buffer.from(name).subarray(-80).toString("utf8").replace(/^\uFFFD+/, ""), records.length, mtimeMs, "x", 0o644);
    yield records;
    if (records.length % BLOCK) yield Buffer.alloc(BLOCK - (records.length % BLOCK));
  }
  // The ustar name field holds what fits; a pax reader takes the `path` record instead.
  yield header(long ? Buffer.from(name).subarray(0, 100).toString("utf8").replace(/\uFFFD+$/, "") : name, size, mtimeMs, type, mode);
}

/** The tree under `root` as a tar stream, entries named `prefix/<relative path>`, sorted. */
export async function* tarDirectory(root: string, prefix: string): AsyncGenerator<Buffer> {
  async function* walk(dir: string, rel: string): AsyncGenerator<Buffer> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = path.join(dir, e.name);
      const name = `${rel}/${e.name}`;
      const st = await stat(abs);
      if (e.isDirectory()) {
        yield* entryHeaders(name + "/", 0, st.mtimeMs, "5", 0o755);
        yield* walk(abs, name);
      } else if (e.isFile()) {
        yield* entryHeaders(name, st.size, st.mtimeMs, "0", 0o644);
        let sent = 0;
        if (st.size > 0) for await (const chunk of createReadStream(abs, { end: st.size - 1, highWaterMark: 64 * 1024 })) {
          sent += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        if (sent !== st.size) throw new Error(`${name} changed size while archived`);
        if (st.size % BLOCK) yield Buffer.alloc(BLOCK - (st.size % BLOCK));
      }
    }
  }
  yield* entryHeaders(prefix + "/", 0, Date.now(), "5", 0o755);
  yield* walk(root, prefix);
  yield Buffer.alloc(2 * BLOCK);
}
