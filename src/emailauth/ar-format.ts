// Building the Authentication-Results header field (RFC 8601 §2.2):
//   Authentication-Results: authserv-id; method=result (comment) ptype.property=value; ...
// mailauth formats the DKIM, DMARC and ARC entries; the SPF entries (MAIL FROM and HELO are
// separate identities, RFC 7208 §2.3/§2.4) are built here, and so is the whole field.

/** RFC 2045 token characters: any CHAR except SPACE, CTLs and tspecials. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;
/** RFC 5322 dot-atom (RFC 8601 §2.2 allows it, or a local-part@domain, as a pvalue). */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;

function quoted(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** RFC 8601 §2.5 authserv-id: a `value` (RFC 2045), so a token or a quoted-string. */
export function formatAuthservId(id: string): string {
  return TOKEN.test(id) ? id : quoted(id);
}

/** A comment: parentheses and backslashes escaped as quoted-pairs (RFC 5322 §3.2.2). */
export function formatComment(text: string): string {
  return `(${text.replace(/[\\()]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, " ")})`;
}

/** A pvalue (RFC 8601 §2.2): dot-atom, addr-spec with a dot-atom local part, or a quoted-string. */
export function formatPvalue(value: string): string {
  const at = value.lastIndexOf("@");
  if (at < 0) return DOT_ATOM.test(value) ? value : quoted(value);
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if ((local === "" || DOT_ATOM.test(local)) && DOT_ATOM.test(domain)) return value;
  return quoted(value);
}

export function formatResinfo(method: string, result: string, comment: string | null, props: Array<[string, string]>): string {
  const parts = [`${method}=${result}`];
  if (comment) parts.push(formatComment(comment));
  for (const [k, v] of props) parts.push(`${k}=${formatPvalue(v)}`);
  return parts.join(" ");
}

/** Folds a line at spaces so no physical line exceeds `width` octets (RFC 5322 §2.1.1, §2.2.3). */
export function fold(line: string, width = 78): string {
  if (line.length <= width) return line;
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    let cut = rest.lastIndexOf(" ", width);
    if (cut <= 0) cut = rest.indexOf(" ", width);
    if (cut <= 0) break; // one long word: leave it whole, it still fits the 998 limit in practice
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut); // the space starts the continuation line
  }
  out.push(rest);
  return out.join("\r\n");
}

/** The whole header field, CRLF-terminated, each resinfo on its own folded line. */
export function formatAuthenticationResults(authservId: string, resinfos: string[]): string {
  const rows = resinfos.length > 0 ? resinfos : ["none"];
  const body = rows.map((r) => fold(` ${r.replace(/\r?\n[ \t]*/g, " ")}`, 160)).join(";\r\n");
  // RFC 8601 §2.2: `no-result = [CFWS] ";" [CFWS] "none"` when nothing was evaluated.
  return `Authentication-Results: ${formatAuthservId(authservId)};\r\n${body}\r\n`;
}
