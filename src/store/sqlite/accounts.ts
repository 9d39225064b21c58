// Domains, users and aliases. Addresses are stored lower-case (policy: RFC 5321 §2.4 allows a
// server to treat its own local parts case-insensitively); one address belongs to at most one
// user or alias.
import type { AccountsRepo, AliasRecord, DomainRecord, Id, NewAlias, NewUser, Role, UserPageQuery, UserRecord, UserUsage } from "../types.ts";
import { userSettingKey } from "../types.ts";
import { StoreError } from "../errors.ts";
import { bool } from "./db.ts";
import type { RepoContext } from "./context.ts";

interface DomainRow {
  id: number;
  name: string;
  disabled: number;
  created_at: number;
}
interface UserRow {
  id: number;
  domain_id: number;
  local_part: string;
  address: string;
  display_name: string;
  password_hash: string;
  role: Role;
  quota_bytes: number | null;
  disabled: number;
  created_at: number;
}
interface AliasRow {
  id: number;
  domain_id: number;
  local_part: string;
  address: string;
  targets: string;
  created_at: number;
}

const USER_COLS = "id, domain_id, local_part, address, display_name, password_hash, role, quota_bytes, disabled, created_at";
const ALIAS_COLS = "id, domain_id, local_part, address, targets, created_at";

const toDomain = (r: DomainRow): DomainRecord => ({ id: r.id, name: r.name, disabled: bool(r.disabled), createdAt: r.created_at });
const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  domainId: r.domain_id,
  localPart: r.local_part,
  address: r.address,
  displayName: r.display_name,
  passwordHash: r.password_hash,
  role: r.role,
  quotaBytes: r.quota_bytes,
  disabled: bool(r.disabled),
  createdAt: r.created_at,
});
const toAlias = (r: AliasRow): AliasRecord => ({
  id: r.id,
  domainId: r.domain_id,
  localPart: r.local_part,
  address: r.address,
  targets: JSON.parse(r.targets) as string[],
  createdAt: r.created_at,
});

export class SqliteAccounts implements AccountsRepo {
  #c: RepoContext;
  constructor(c: RepoContext) {
    this.#c = c;
  }

  createDomain(name: string): Promise<DomainRecord> {
    return this.#c.call(() => {
      const db = this.#c.db;
      const n = name.toLowerCase();
      if (db.get("SELECT 1 FROM domains WHERE name = ?", n)) throw new StoreError("exists", `domain ${n} exists`);
      const now = this.#c.clock.now();
      const { lastInsertRowid } = db.run("INSERT INTO domains (name, disabled, created_at) VALUES (?, 0, ?)", n, now);
      return { id: lastInsertRowid, name: n, disabled: false, createdAt: now };
    });
  }

  getDomain(name: string): Promise<DomainRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<DomainRow>("SELECT * FROM domains WHERE name = ?", name.toLowerCase());
      return r ? toDomain(r) : null;
    });
  }

  getDomainById(id: Id): Promise<DomainRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<DomainRow>("SELECT * FROM domains WHERE id = ?", id);
      return r ? toDomain(r) : null;
    });
  }

  listDomains(): Promise<DomainRecord[]> {
    return this.#c.call(() => this.#c.db.all<DomainRow>("SELECT * FROM domains ORDER BY name").map(toDomain));
  }

  setDomainDisabled(id: Id, disabled: boolean): Promise<void> {
    return this.#c.call(() => {
      const { changes } = this.#c.db.run("UPDATE domains SET disabled = ? WHERE id = ?", disabled ? 1 : 0, id);
      if (changes === 0) throw new StoreError("not-found", `no domain ${id}`);
    });
  }

  removeDomain(name: string): Promise<boolean> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        const d = db.get<DomainRow>("SELECT * FROM domains WHERE name = ?", name.toLowerCase());
        if (!d) return false;
        if (db.get("SELECT 1 FROM users WHERE domain_id = ? LIMIT 1", d.id)) {
          throw new StoreError("in-use", `domain ${d.name} still has users`);
        }
        db.run("DELETE FROM domains WHERE id = ?", d.id); // aliases cascade
        return true;
      }),
    );
  }

  #domainName(domainId: Id): string {
    const d = this.#c.db.get<{ name: string }>("SELECT name FROM domains WHERE id = ?", domainId);
    if (!d) throw new StoreError("not-found", `no domain ${domainId}`);
    return d.name;
  }

  #assertAddressFree(address: string): void {
    const db = this.#c.db;
    if (db.get("SELECT 1 FROM users WHERE address = ?", address) || db.get("SELECT 1 FROM aliases WHERE address = ?", address)) {
      throw new StoreError("exists", `address ${address} is taken`);
    }
  }

  createUser(user: NewUser): Promise<UserRecord> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const localPart = user.localPart.toLowerCase();
        if (localPart === "") throw new StoreError("invalid", "empty local part");
        const address = `${localPart}@${this.#domainName(user.domainId)}`;
        this.#assertAddressFree(address);
        const now = this.#c.clock.now();
        const rec: Omit<UserRecord, "id"> = {
          domainId: user.domainId,
          localPart,
          address,
          displayName: user.displayName ?? "",
          passwordHash: user.passwordHash,
          role: user.role ?? "user",
          quotaBytes: user.quotaBytes ?? null,
          disabled: false,
          createdAt: now,
        };
        const { lastInsertRowid } = this.#c.db.run(
          `INSERT INTO users (domain_id, local_part, address, display_name, password_hash, role, quota_bytes, disabled, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)`,
          rec.domainId, rec.localPart, rec.address, rec.displayName, rec.passwordHash, rec.role, rec.quotaBytes, now,
        );
        return { id: lastInsertRowid, ...rec };
      }),
    );
  }

  getUserByAddress(address: string): Promise<UserRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<UserRow>(`SELECT ${USER_COLS} FROM users WHERE address = ?`, address.toLowerCase());
      return r ? toUser(r) : null;
    });
  }

  getUserById(id: Id): Promise<UserRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<UserRow>(`SELECT ${USER_COLS} FROM users WHERE id = ?`, id);
      return r ? toUser(r) : null;
    });
  }

  listUsers(domainId?: Id): Promise<UserRecord[]> {
    return this.#c.call(() => {
      const rows =
        domainId === undefined
          ? this.#c.db.all<UserRow>(`SELECT ${USER_COLS} FROM users ORDER BY address`)
          : this.#c.db.all<UserRow>(`SELECT ${USER_COLS} FROM users WHERE domain_id = ? ORDER BY address`, domainId);
      return rows.map(toUser);
    });
  }

  listUsersPage(q: UserPageQuery): Promise<Array<UserRecord & { usage: UserUsage }>> {
    const [sql, params] = userPageSql(q);
    return this.#c.call(() =>
      this.#c.db
        .all<UserRow & { usage_bytes: number; usage_messages: number }>(sql, ...params)
        .map((r) => ({ ...toUser(r), usage: { bytes: r.usage_bytes, messages: r.usage_messages } })),
    );
  }

  #updateUser(sql: string, userId: Id, value: string | number | null): Promise<void> {
    return this.#c.call(() => {
      const { changes } = this.#c.db.run(sql, value, userId);
      if (changes === 0) throw new StoreError("not-found", `no user ${userId}`);
    });
  }

  updatePassword(userId: Id, passwordHash: string): Promise<void> {
    return this.#updateUser("UPDATE users SET password_hash = ? WHERE id = ?", userId, passwordHash);
  }

  setUserDisabled(userId: Id, disabled: boolean): Promise<void> {
    return this.#updateUser("UPDATE users SET disabled = ? WHERE id = ?", userId, disabled ? 1 : 0);
  }

  setUserQuota(userId: Id, quotaBytes: number | null): Promise<void> {
    return this.#updateUser("UPDATE users SET quota_bytes = ? WHERE id = ?", userId, quotaBytes);
  }

  setUserRole(userId: Id, role: Role): Promise<void> {
    return this.#updateUser("UPDATE users SET role = ? WHERE id = ?", userId, role);
  }

  removeUser(userId: Id): Promise<boolean> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const db = this.#c.db;
        if (!db.get("SELECT 1 FROM users WHERE id = ?", userId)) return false;
        // Drop the blob references of every message first; the cascade would skip them.
        db.run(
          `UPDATE blobs SET refcount = refcount - (
             SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
             WHERE m.blob_id = blobs.id AND b.user_id = ?1)
           WHERE id IN (SELECT m.blob_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = ?1)`,
          userId,
        );
        db.run("DELETE FROM users WHERE id = ?", userId); // mailboxes, messages, tombstones cascade
        // Per-user settings (types.ts userSettingKey): ids are digits, so no LIKE wildcard in it.
        db.run("DELETE FROM settings WHERE key LIKE ?", userSettingKey(userId, "%"));
        return true;
      }),
    );
  }

  createAlias(alias: NewAlias): Promise<AliasRecord> {
    return this.#c.call(() =>
      this.#c.db.atomic(() => {
        const localPart = alias.localPart.toLowerCase();
        const address = `${localPart}@${this.#domainName(alias.domainId)}`;
        this.#assertAddressFree(address);
        const now = this.#c.clock.now();
        const targets = [...alias.targets];
        const { lastInsertRowid } = this.#c.db.run(
          "INSERT INTO aliases (domain_id, local_part, address, targets, created_at) VALUES (?, ?, ?, ?, ?)",
          alias.domainId, localPart, address, JSON.stringify(targets), now,
        );
        return { id: lastInsertRowid, domainId: alias.domainId, localPart, address, targets, createdAt: now };
      }),
    );
  }

  getAliasByAddress(address: string): Promise<AliasRecord | null> {
    return this.#c.call(() => {
      const r = this.#c.db.get<AliasRow>(`SELECT ${ALIAS_COLS} FROM aliases WHERE address = ?`, address.toLowerCase());
      return r ? toAlias(r) : null;
    });
  }

  listAliases(domainId?: Id): Promise<AliasRecord[]> {
    return this.#c.call(() => {
      const rows =
        domainId === undefined
          ? this.#c.db.all<AliasRow>(`SELECT ${ALIAS_COLS} FROM aliases ORDER BY address`)
          : this.#c.db.all<AliasRow>(`SELECT ${ALIAS_COLS} FROM aliases WHERE domain_id = ? ORDER BY address`, domainId);
      return rows.map(toAlias);
    });
  }

  setAliasTargets(id: Id, targets: string[]): Promise<void> {
    return this.#c.call(() => {
      const { changes } = this.#c.db.run("UPDATE aliases SET targets = ? WHERE id = ?", JSON.stringify(targets), id);
      if (changes === 0) throw new StoreError("not-found", `no alias ${id}`);
    });
  }

  removeAlias(address: string): Promise<boolean> {
    return this.#c.call(() => this.#c.db.run("DELETE FROM aliases WHERE address = ?", address.toLowerCase()).changes > 0);
  }
}

/**
 * The users page query (exported so a test can EXPLAIN it). All users walk the address index;
 * one domain's walk the (domain_id, local_part) index, so a page never scans the table.
 */
export function userPageSql(q: UserPageQuery): [string, Array<string | number>] {
  const where: string[] = [];
  const params: Array<string | number> = [];
  let order = "address";
  if (q.domainId !== undefined) {
    where.push("domain_id = ?");
    params.push(q.domainId);
    order = "local_part";
    if (q.afterAddress !== undefined) {
      where.push("local_part > ?");
      params.push(q.afterAddress.slice(0, Math.max(0, q.afterAddress.lastIndexOf("@"))));
    }
  } else if (q.afterAddress !== undefined) {
    where.push("address > ?");
    params.push(q.afterAddress);
  }
  if (q.contains !== undefined) {
    where.push("instr(address, ?) > 0");
    params.push(q.contains.toLowerCase());
  }
  params.push(q.limit);
  const cols = `${USER_COLS}, usage_bytes, usage_messages`;
  return [`SELECT ${cols} FROM users ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY ${order} LIMIT ?`, params];
}
