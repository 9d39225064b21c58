// The admin UI build (docs/web.md "Admin UI"): ui/ → dist-ui/, served by src/web/ui.ts at /.
// No inline script or style in the output (the CSP forbids both): modulePreload's polyfill
// would be inline, so it is off; assets are hashed files under /assets/.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  build: {
    outDir: "../dist-ui",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
  },
});
