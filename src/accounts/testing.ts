// Test helper: an accounts service over a fresh SQLite store in a temporary folder, with cheap
// scrypt parameters. Other modules' tests may use it too.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "../clock.ts";
import { openSqliteStore } from "../store/sqlite/store.ts";
import type { MetadataStore } from "../store/types.ts";
import { AccountsService } from "./service.ts";

export interface AccountsFixture {
  dir: string;
  store: MetadataStore;
  clock: ManualClock;
  accounts: AccountsService;
  close(): Promise<void>;
}

export const FAST_SCRYPT = { ln: 4, r: 8, p: 1 };

export async function accountsFixture(opts: { defaultQuotaBytes?: number } = {}): Promise<AccountsFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "freehold-accounts-"));
  const clock = new ManualClock();
  const store = openSqliteStore(dir, { clock });
  const accounts = new AccountsService({ store, clock, defaultQuotaBytes: opts.defaultQuotaBytes ?? 1000, scrypt: FAST_SCRYPT });
  return {
    dir,
    store,
    clock,
    accounts,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
