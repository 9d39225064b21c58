// /api/v1/relays: the smarthost relays and routing rules (src/delivery/relays.ts), read-only for
// now (server admins). Writes still go through `freehold relay`: its logic lives in the CLI and
// moves into a service before the API may change relays (docs/api.md "Not yet").
import { z } from "zod";
import { loadRelayFile, loadRelaySecrets, RelayConfigError } from "../../delivery/relays.ts";
import { ApiProblem } from "../problem.ts";
import type { ApiContext } from "../server.ts";
import { actorOf, requireServerAdmin } from "./common.ts";
import type { Api } from "./common.ts";

const RelayView = z.strictObject({
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  tls: z.enum(["starttls", "implicit", "none"]),
  maxConnections: z.number().int(),
  /** Whether a user name and password are stored (never the password itself). */
  authenticated: z.boolean(),
});
const Routes = z.strictObject({
  recipientDomains: z.record(z.string(), z.array(z.string())),
  senderDomains: z.record(z.string(), z.array(z.string())),
  default: z.array(z.string()),
});

export function registerRelayRoutes(api: Api, ctx: ApiContext): void {
  api.get(
    "/relays",
    { schema: { summary: "Relays and the routes that use them (server admins)", tags: ["relays"], response: { 200: z.strictObject({ relays: z.array(RelayView), routes: Routes }) } } },
    async (req) => {
      requireServerAdmin(actorOf(req));
      const dataDir = ctx.deps.config.dataDir;
      if (dataDir === undefined) throw new ApiProblem("not-found", "no relay configuration");
      try {
        const file = await loadRelayFile(dataDir);
        const secrets = await loadRelaySecrets(dataDir);
        return { relays: file.relays.map((r) => ({ ...r, authenticated: secrets[r.name] !== undefined })), routes: file.routes };
      } catch (e) {
        if (e instanceof RelayConfigError) throw new ApiProblem("conflict", e.message);
        throw e;
      }
    },
  );
}
