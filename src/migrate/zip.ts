// A streaming ZIP writer (PKWARE APPNOTE.TXT 6.3.x): entries are deflated (method 8, RFC 1951)
// as they stream in, sizes and CRC-32 follow each entry in a data descriptor (general purpose
// bit 3, §4.3.9), names are UTF-8 (bit 11). The central directory is spooled to a temporary
// file rather than held in memory, so an archive of any number of entries is written in
// constant memory. ZIP64 (§4.5.3, §4.3.14-15) is used only where a field overflows: an entry
// offset past 4 GiB, or more than 65,535 entries. Single entries must stay under 4 GiB.
import { createDeflateRaw, crc32 } from "node:zlib";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { open, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

const U32 = 0xffffffff;

function dosDateTime(ms: number): { time: number; date: number } {
  const d = new Date(ms);
  const year = Math.max(1980, d.getUTCFullYear());
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

export class ZipWriter {
  #out: FileHandle;
  #offset = 0;
  #count = 0;
  #cd: FileHandle;
  #cdPath: string;
  #cdSize = 0;

  private constructor(out: FileHandle, cd: FileHandle, cdPath: string) {
    this.#out = out;
    this.#cd = cd;
    this.#cdPath = cdPath;
  }

  /** Creates (truncates) `path`; the central directory spools to `path + ".cd.tmp"`. */
  static async create(path: string): Promise<ZipWriter> {
    const out = await open(path, "w", 0o600);
    const cdPath = path + ".cd.tmp";
    const cd = await open(cdPath, "w+", 0o600);
    return new ZipWriter(out, cd, cdPath);
  }

  async #write(b: Buffer): Promise<void> {
    let done = 0;
    while (done < b.length) done += (await this.#out.write(b, done, b.length - done)).bytesWritten;
    this.#offset += b.length;
  }

  /** Adds one deflated entry whose bytes come from `source`. */
  async add(name: string, mtimeMs: number, source: AsyncIterable<Buffer>): Promise<{ size: number; crc: number }> {
    const nameBytes = Buffer.from(name, "utf8");
    const { time, date } = dosDateTime(mtimeMs);
    const localOffset = this.#offset;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    lh.writeUInt16LE(0x0808, 6); // bit 3 data descriptor, bit 11 UTF-8
    lh.writeUInt16LE(8, 8);
    lh.writeUInt16LE(time, 10);
    lh.writeUInt16LE(date, 12);
    // CRC and sizes are zero here; they follow in the data descriptor.
    lh.writeUInt16LE(nameBytes.length, 26);
    await this.#write(Buffer.concat([lh, nameBytes]));

    let crc = 0;
    let size = 0;
    let compressed = 0;
    const self = this;
    async function* tap(): AsyncGenerator<Buffer> {
      for await (const c of source) {
        crc = crc32(c, crc);
        size += c.length;
        yield c;
      }
    }
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        compressed += chunk.length;
        self.#write(chunk).then(() => cb(), cb);
      },
    });
    await pipeline(Readable.from(tap()), createDeflateRaw({ level: 6 }), sink);
    if (size >= U32 || compressed >= U32) throw new Error(`zip: entry ${name} is 4 GiB or more`);
    const dd = Buffer.alloc(16);
    dd.writeUInt32LE(0x08074b50, 0);
    dd.writeUInt32LE(crc >>> 0, 4);
    dd.writeUInt32LE(compressed, 8);
    dd.writeUInt32LE(size, 12);
    await this.#write(dd);

    const zip64 = localOffset >= U32;
    const extra = zip64 ? Buffer.alloc(12) : Buffer.alloc(0);
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(8, 2);
      extra.writeBigUInt64LE(BigInt(localOffset), 4);
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | (zip64 ? 45 : 20), 4); // made by: Unix
    ch.writeUInt16LE(zip64 ? 45 : 20, 6);
    ch.writeUInt16LE(0x0808, 8);
    ch.writeUInt16LE(8, 10);
    ch.writeUInt16LE(time, 12);
    ch.writeUInt16LE(date, 14);
    ch.writeUInt32LE(crc >>> 0, 16);
    ch.writeUInt32LE(compressed, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(nameBytes.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    ch.writeUInt32LE((0o100600 << 16) >>> 0, 38); // external attributes: regular file, rw-------
    ch.writeUInt32LE(zip64 ? U32 : localOffset, 42);
    const rec = Buffer.concat([ch, nameBytes, extra]);
    await this.#cd.write(rec, 0, rec.length, this.#cdSize);
    this.#cdSize += rec.length;
    this.#count++;
    return { size, crc: crc >>> 0 };
  }

  /** Appends the central directory and the end records, fsyncs and closes. */
  async finish(): Promise<void> {
    const cdOffset = this.#offset;
    const buf = Buffer.alloc(1 << 16);
    for (let pos = 0; pos < this.#cdSize; ) {
      const { bytesRead } = await this.#cd.read(buf, 0, Math.min(buf.length, this.#cdSize - pos), pos);
      if (bytesRead === 0) throw new Error("zip: central directory spool truncated");
      await this.#write(Buffer.from(buf.subarray(0, bytesRead)));
      pos += bytesRead;
    }
    const needs64 = this.#count > 0xffff || cdOffset >= U32 || this.#cdSize >= U32;
    if (needs64) {
      const z = Buffer.alloc(56);
      z.writeUInt32LE(0x06064b50, 0);
      z.writeBigUInt64LE(44n, 4);
      z.writeUInt16LE((3 << 8) | 45, 12);
      z.writeUInt16LE(45, 14);
      z.writeBigUInt64LE(BigInt(this.#count), 24);
      z.writeBigUInt64LE(BigInt(this.#count), 32);
      z.writeBigUInt64LE(BigInt(this.#cdSize), 40);
      z.writeBigUInt64LE(BigInt(cdOffset), 48);
      const zOffset = this.#offset;
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(zOffset), 8);
      loc.writeUInt32LE(1, 16);
      await this.#write(Buffer.concat([z, loc]));
    }
    const e = Buffer.alloc(22);
    e.writeUInt32LE(0x06054b50, 0);
    e.writeUInt16LE(Math.min(this.#count, 0xffff), 8);
    e.writeUInt16LE(Math.min(this.#count, 0xffff), 10);
    e.writeUInt32LE(Math.min(this.#cdSize, U32), 12);
    e.writeUInt32LE(Math.min(cdOffset, U32), 16);
    await this.#write(e);
    await this.#out.sync();
    await this.#out.close();
    await this.#cd.close();
    await rm(this.#cdPath, { force: true });
  }

  /** Closes and removes the spool after a failure (the partial archive is left to the caller). */
  async abort(): Promise<void> {
    await this.#out.close().catch(() => undefined);
    await this.#cd.close().catch(() => undefined);
    await rm(this.#cdPath, { force: true });
  }
}
