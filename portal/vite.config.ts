import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The gateway serves the built files under /portal/ and the RPCs under /portal/rpc, same origin.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/portal/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The gateway's Content-Security-Policy (default-src 'self') forbids data: URLs.
    assetsInlineLimit: 0,
    rolldownOptions: {
      output: {
        // Libraries change less often than the app: their own chunks stay cached across releases.
        codeSplitting: {
          groups: [
            {
              name: "react",
              test: /[\\/]node_modules[\\/](react|react-dom|scheduler|react-router|cookie|set-cookie-parser)[\\/]/,
            },
            { name: "rpc", test: /[\\/]node_modules[\\/](@bufbuild|@connectrpc|@tanstack)[\\/]|[\\/]gen[\\/]es[\\/]/ },
          ],
        },
      },
    },
  },
  server: {
    // `npm run dev -w portal` against a gateway started with `npm start`.
    proxy: { "/portal/rpc": process.env.LANGOPEN_URL ?? "http://127.0.0.1:8123" },
  },
});
