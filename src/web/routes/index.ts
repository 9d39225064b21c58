// Every /api/v1 route, by area.
import type { ApiContext } from "../server.ts";
import type { Api } from "./common.ts";
import { registerAccountRoutes } from "./accounts.ts";
import { registerAppPasswordRoutes } from "./app-passwords.ts";
import { registerAuditRoutes } from "./audit.ts";
import { registerDkimRoutes } from "./dkim.ts";
import { registerJobRoutes } from "./jobs.ts";
import { registerAccountSelfRoutes } from "./account.ts";
import { registerOpsRoutes } from "./ops.ts";
import { registerQueueRoutes } from "./queue.ts";
import { registerRelayRoutes } from "./relays.ts";
import { registerSessionRoutes } from "./session.ts";
import { registerTokenRoutes } from "./tokens.ts";
import { registerContactRoutes } from "./contacts.ts";

export function registerApiRoutes(api: Api, ctx: ApiContext): void {
  registerSessionRoutes(api, ctx);
  registerTokenRoutes(api, ctx);
  registerAccountRoutes(api, ctx);
  registerDkimRoutes(api, ctx);
  registerQueueRoutes(api, ctx);
  registerRelayRoutes(api, ctx);
  registerAuditRoutes(api, ctx);
  registerJobRoutes(api, ctx);
  registerAppPasswordRoutes(api, ctx);
  registerAccountSelfRoutes(api, ctx);
  registerOpsRoutes(api, ctx);
  registerContactRoutes(api, ctx);
}
