// /api/v1/account/contacts and /api/v1/account/calendar: the caller's address books and
// calendars as a download, an import of a file's text, and the collected-addresses switch.
// The same service layer as `freehold contacts|calendar` (src/dav/transfer.ts). Registered only
// when the web app has the DAV context (src/web/starter.ts passes it).
import { z } from "zod";
import type { ApiContext } from "../server.ts";
import { actorOf } from "./common.ts";
import type { Api } from "./common.ts";
import { ApiProblem } from "../problem.ts";
import { DavTransfer } from "../../dav/transfer.ts";
import type { CollectionKind } from "../../dav/store.ts";
import type { FastifyRequest } from "fastify";

const ImportResult = z.strictObject({ imported: z.number().int(), refused: z.array(z.strictObject({ index: z.number().int(), reason: z.string() })) });

export function registerContactRoutes(api: Api, ctx: ApiContext): void {
  const dav = ctx.deps.dav;
  if (!dav) return;
  const transfer = new DavTransfer(dav.store);
  const owner = (req: FastifyRequest): string => {
    const a = actorOf(req);
    if (a.kind !== "user") throw new ApiProblem("forbidden", "a user's own data: sign in as the user");
    return a.user.address;
  };
  for (const [seg, kind, type, ext] of [["contacts", "addressbook", "text/vcard; charset=utf-8", "vcf"], ["calendar", "calendar", "text/calendar; charset=utf-8", "ics"]] as const) {
    api.get(`/account/${seg}`, { schema: { summary: `Download every ${kind === "addressbook" ? "address book" : "calendar"} of yours as one .${ext} file`, tags: ["account"] } }, async (req, reply) => {
      const who = owner(req);
      const text = await transfer.exportAll(who, kind as CollectionKind);
      return reply.type(type).header("content-disposition", `attachment; filename="${seg}.${ext}"`).send(text);
    });
    api.post(
      `/account/${seg}/import`,
      {
        schema: {
          summary: kind === "addressbook" ? "Import a .vcf, or a Google or Outlook .csv export (the file's text)" : "Import an .ics (the file's text)",
          tags: ["account"],
          body: z.strictObject({ fileName: z.string().min(1).max(255), data: z.string().min(1) }),
          response: { 200: ImportResult },
        },
      },
      async (req) => {
        const who = owner(req);
        let objects: string[];
        try {
          objects = DavTransfer.objectsOf(kind as CollectionKind, req.body.fileName, req.body.data);
        } catch (e) {
          throw new ApiProblem("invalid-request", (e as Error).message);
        }
        if (objects.length === 0) throw new ApiProblem("invalid-request", `no ${kind === "addressbook" ? "contacts" : "events"} in the file`);
        return transfer.importObjects(who, kind as CollectionKind, objects);
      },
    );
  }
  api.get("/account/contacts/collect", { schema: { summary: "Whether recipients of mail you send are added to your Collected address book", tags: ["account"], response: { 200: z.strictObject({ enabled: z.boolean() }) } } }, async (req) => ({
    enabled: await dav.store.collectAddresses(owner(req)),
  }));
  api.put(
    "/account/contacts/collect",
    { schema: { summary: "Turn collected addresses on or off", tags: ["account"], body: z.strictObject({ enabled: z.boolean() }), response: { 200: z.strictObject({ enabled: z.boolean() }) } } },
    async (req) => {
      const who = owner(req);
      await dav.store.setCollectAddresses(who, req.body.enabled);
      return { enabled: await dav.store.collectAddresses(who) };
    },
  );
}
