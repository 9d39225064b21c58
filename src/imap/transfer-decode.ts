// Content-Transfer-Encoding decoding for BINARY (RFC 3516 §4.1) and for the search index.
// Returns null for an encoding we do not know, which BINARY answers with [UNKNOWN-CTE].

export function decodeTransfer(data: Buffer, encoding: string | null): Buffer | null {
  const enc = (encoding ?? "7bit").trim().toLowerCase();
  switch (enc) {
    case "7bit":
    case "8bit":
    case "binary":
    case "":
      return data;
    case "base64":
      // RFC 2045 §6.8: characters outside the alphabet are ignored.
      return Buffer.from(data.toString("latin1").replace(/[^A-Za-z0-9+/]/g, ""), "base64");
    case "quoted-printable":
      return decodeQuotedPrintable(data);
    default:
      return null;
  }
}

/** RFC 2045 §6.7: =XX escapes, soft line breaks "=" CRLF; trailing white space before CRLF dropped. */
export function decodeQuotedPrintable(data: Buffer): Buffer {
  const out = Buffer.alloc(data.length);
  let o = 0;
  const hex = (c: number): number =>
    c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === 0x3d) {
      // soft line break: "=" optional white space then CRLF or LF
      let j = i + 1;
      while (j < data.length && (data[j] === 0x20 || data[j] === 0x09)) j++;
      if (data[j] === 0x0d && data[j + 1] === 0x0a) {
        i = j + 1;
        continue;
      }
      if (data[j] === 0x0a) {
        i = j;
        continue;
      }
      if (j >= data.length) break;
      const h = hex(data[i + 1]);
      const l = hex(data[i + 2]);
      if (h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        i += 2;
        continue;
      }
      out[o++] = c;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      // RFC 2045 §6.7 rule 3: white space at the end of an encoded line was added in transport
      // and "must be deleted" when decoding; only an encoded =20 / =09 is kept.
      let j = i + 1;
      while (j < data.length && (data[j] === 0x20 || data[j] === 0x09)) j++;
      if (j >= data.length || data[j] === 0x0a || (data[j] === 0x0d && data[j + 1] === 0x0a)) {
        i = j - 1;
        continue;
      }
      data.copy(out, o, i, j);
      o += j - i;
      i = j - 1;
      continue;
    }
    out[o++] = c;
  }
  return out.subarray(0, o);
}
