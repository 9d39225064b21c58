// The file operations the blob store performs, behind one small interface so a test can record
// their exact order (temp fsync → rename → directory fsync → metadata commit → reply) and inject
// faults. nodeFs is the real one.
import { closeSync, constants, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { Readable } from "node:stream";
import { open, readdir, rename, stat, unlink, mkdir, readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

export interface FsFile {
  readonly path: string;
  /** Writes all of data at the current end. */
  write(data: Uint8Array): Promise<void>;
  /** fsync(2): data and metadata on stable storage. */
  fsync(): Promise<void>;
  close(): Promise<void>;
}

export interface FsStat {
  size: number;
  mtimeMs: number;
  isDirectory: boolean;
}

export interface FsLayer {
  /** Creates a new file for writing; fails if it exists. */
  create(path: string): Promise<FsFile>;
  rename(from: string, to: string): Promise<void>;
  /** fsync(2) on a directory: makes the entries created or renamed in it durable. */
  fsyncDir(dir: string): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  stat(path: string): Promise<FsStat | null>;
  readFile(path: string): Promise<Buffer>;
  /**
   * The whole file read synchronously, for small blobs (blob-files.ts SYNC_READ_MAX): one
   * open/read/close on the event loop instead of four thread-pool round trips. Optional: a layer
   * without it is read through readFile.
   */
  readFileSync?(path: string): Buffer;
  /** Bytes [start, end) or the whole file. */
  createReadStream(path: string, range?: { start: number; end: number }): NodeJS.ReadableStream;
}

class NodeFile implements FsFile {
  readonly path: string;
  #h: FileHandle;
  constructor(path: string, h: FileHandle) {
    this.path = path;
    this.#h = h;
  }
  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.byteLength) {
      const { bytesWritten } = await this.#h.write(data, off, data.byteLength - off);
      off += bytesWritten;
    }
  }
  fsync(): Promise<void> {
    return this.#h.sync();
  }
  close(): Promise<void> {
    return this.#h.close();
  }
}

export const nodeFs: FsLayer = {
  async create(path) {
    return new NodeFile(path, await open(path, "wx", 0o600));
  },
  rename: (from, to) => rename(from, to),
  async fsyncDir(dir) {
    const h = await open(dir, "r");
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  },
  unlink: (path) => unlink(path),
  async mkdir(dir) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  },
  readdir: (dir) => readdir(dir),
  async stat(path) {
    try {
      const s = await stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs, isDirectory: s.isDirectory() };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  },
  readFile: (path) => readFile(path),
  readFileSync(path) {
    // O_NOATIME: a read must not be a write. With relatime the first read of a new file updates
    // its atime, which on ext4 opens a journal handle and can wait for the commit other
    // sessions' fsyncs are forcing (Linux only; 0 elsewhere; allowed: the server owns its files).
    const fd = openSync(path, constants.O_RDONLY | (constants.O_NOATIME ?? 0));
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const n = readSync(fd, buf, off, size - off, off);
        if (n === 0) break;
        off += n;
      }
      return off === size ? buf : buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  },
  createReadStream(path, range) {
    if (!range) return createReadStream(path);
    if (range.end <= range.start) return Readable.from([]);
    return createReadStream(path, { start: range.start, end: range.end - 1 });
  },
};

/** Wraps an FsLayer and appends each durability-relevant operation to `log` ("fsync <path>", …). */
export function recordingFs(inner: FsLayer, log: string[]): FsLayer {
  return {
    ...inner,
    async create(path) {
      const f = await inner.create(path);
      log.push(`create ${path}`);
      return {
        path: f.path,
        write: (d) => f.write(d),
        fsync: async () => {
          await f.fsync();
          log.push(`fsync ${path}`);
        },
        close: () => f.close(),
      };
    },
    async rename(from, to) {
      await inner.rename(from, to);
      log.push(`rename ${from} ${to}`);
    },
    async fsyncDir(dir) {
      await inner.fsyncDir(dir);
      log.push(`fsyncDir ${dir}`);
    },
    async unlink(path) {
      await inner.unlink(path);
      log.push(`unlink ${path}`);
    },
  };
}
