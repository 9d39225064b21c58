// The admin UI's files (ui/, built by Vite into dist-ui/ with `npm run build:ui`; docs/web.md
// "Admin UI"): / is index.html, /assets/* the hashed script and stylesheet. No inline script or
// style anywhere, so the CSP (security.ts) stays strict. When dist-ui/ is missing (a checkout
// that has not run the build), / says how to build it instead of a blank page.
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";

export const UI_DIR = fileURLToPath(new URL("../../dist-ui/", import.meta.url));

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/** Reads the build once at startup: a fixed set of files, so no request names a path on disk. */
export async function registerUi(app: FastifyInstance, dir = UI_DIR): Promise<void> {
  let index: Buffer | null = null;
  const assets = new Map<string, { body: Buffer; type: string }>();
  try {
    index = await readFile(path.join(dir, "index.html"));
    for (const name of await readdir(path.join(dir, "assets"))) {
      const type = TYPES[path.extname(name)];
      if (type) assets.set(name, { body: await readFile(path.join(dir, "assets", name)), type });
    }
  } catch {
    index = null;
  }
  app.get("/", { schema: { hide: true } }, async (_req, reply) => {
    reply.header("cache-control", "no-cache").type("text/html; charset=utf-8");
    if (index) return reply.send(index);
    return reply.send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Freehold</title></head><body><h1>Freehold</h1><p>The admin UI is not built: run <code>npm run build:ui</code> (npm start does). The API is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p></body></html>`,
    );
  });
  app.get<{ Params: { name: string } }>("/assets/:name", { schema: { hide: true } }, async (req, reply) => {
    const a = assets.get(req.params.name);
    if (!a) return reply.callNotFound();
    // Names carry a content hash: a new build has new names.
    return reply.header("cache-control", "public, max-age=31536000, immutable").type(a.type).send(a.body);
  });
}
