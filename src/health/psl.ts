// The Public Suffix List (https://publicsuffix.org/list/): the registrable domain ("organizational
// domain", RFC 7489 §3.2) of a name, which is what domain blocklists (Spamhaus DBL, SURBL) list.
// The algorithm is the list's own (publicsuffix.org/list "Formal algorithm"): the longest
// matching rule wins, exception rules ("!") beat wildcards ("*"), the default rule is "*".
import { readFileSync, existsSync } from "node:fs";
import { domainToASCII } from "node:url";

export class PublicSuffixList {
  #rules = new Set<string>();
  #exceptions = new Set<string>();

  constructor(text: string) {
    for (const raw of text.split("\n")) {
      const line = raw.trim().split(/\s/)[0];
      if (!line || line.startsWith("//")) continue;
      // The list is in U-labels; names here are A-labels (punycode).
      const rule = line.split(".").map((l) => (l === "*" || l.startsWith("!") || /^[\x00-\x7f]*$/.test(l) ? l.toLowerCase() : domainToASCII(l))).join(".");
      if (rule.startsWith("!")) this.#exceptions.add(rule.slice(1));
      else this.#rules.add(rule);
    }
  }

  get size(): number {
    return this.#rules.size + this.#exceptions.size;
  }

  /** The public suffix of a lower-case name ("co.uk" for "a.b.co.uk"). */
  publicSuffix(name: string): string {
    const labels = name.split(".");
    let best = 1; // the default rule "*": the last label
    for (let i = 0; i < labels.length; i++) {
      const candidate = labels.slice(i).join(".");
      if (this.#exceptions.has(candidate)) return labels.slice(i + 1).join(".");
      const n = labels.length - i;
      const wildcard = ["*", ...labels.slice(i + 1)].join(".");
      if (n > best && (this.#rules.has(candidate) || (i + 1 < labels.length && this.#rules.has(wildcard)))) best = n;
    }
    return labels.slice(labels.length - best).join(".");
  }

  /** The registrable domain (public suffix plus one label), or null for a public suffix itself. */
  registrableDomain(name: string | null): string | null {
    if (!name) return null;
    const n = name.toLowerCase().replace(/\.$/, "");
    if (n.startsWith(".") || n === "") return null;
    const suffix = this.publicSuffix(n);
    if (n === suffix) return null;
    const rest = n.slice(0, n.length - suffix.length - 1).split(".");
    return `${rest[rest.length - 1]}.${suffix}`;
  }
}

/** Where a PSL file is looked for: the data folder, then Debian's `publicsuffix` package. */
export function pslCandidates(dataDir: string): string[] {
  return [`${dataDir}/public_suffix_list.dat`, "/usr/share/publicsuffix/public_suffix_list.dat"];
}

export function loadPsl(paths: readonly string[]): PublicSuffixList | null {
  for (const p of paths) if (existsSync(p)) return new PublicSuffixList(readFileSync(p, "utf8"));
  return null;
}
