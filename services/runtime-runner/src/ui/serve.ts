import { readFile } from "node:fs/promises";
import path from "node:path";

/** The project's bundled UI components, answering `POST /ui/:namespace` and `GET /ui/:namespace/:file`. */
export interface ProjectUi {
  /** The namespaces (keys of `ui` in langgraph.json) served. */
  readonly namespaces: string[];
  fetch(request: Request): Promise<Response>;
}

/** Whether a request's path is one of the UI's (the runtime sends only those to it). */
export function isUiPath(pathname: string): boolean {
  return pathname.startsWith("/ui/");
}

const CONTENT_TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
};

function detail(status: number, message: string): Response {
  return Response.json({ detail: message }, { status });
}

/** A value for a single-quoted HTML attribute, whatever it holds. */
function attribute(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("'", "&#39;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/**
 * Loads what bundleProjectUi left in `dir` (its `schemas.json` lists each namespace's files under
 * `public/<namespace>/`) into memory: a few small files, read once. The answers are upstream's:
 * `POST /ui/:namespace` with `{"name": component}` gives the HTML that loads the namespace's
 * stylesheets and script and renders the component into the page's shadow root
 * (`{{shadowRootId}}` is the SDK's to fill), with absolute URLs on this server (plain `http:`
 * for localhost, the page's own scheme otherwise); `GET` serves the files. Errors have the API's
 * `{"detail": ...}` shape.
 */
export async function loadProjectUi(dir: string): Promise<ProjectUi> {
  const listing = JSON.parse(await readFile(path.join(dir, "schemas.json"), "utf8")) as Record<string, { assets?: string[] }>;
  const files = new Map<string, Map<string, Uint8Array>>();
  for (const [namespace, { assets = [] }] of Object.entries(listing)) {
    const byName = new Map<string, Uint8Array>();
    for (const asset of assets) {
      const basename = path.basename(asset);
      byName.set(basename, await readFile(path.join(dir, "public", namespace, basename)));
    }
    files.set(namespace, byName);
  }

  async function component(request: Request, namespace: string): Promise<Response> {
    const assets = files.get(namespace);
    if (!assets || assets.size === 0) return detail(404, `UI not found for "${namespace}"`);
    let name: unknown;
    try {
      name = ((await request.json()) as { name?: unknown } | null)?.name;
    } catch {
      return detail(422, 'The body must be JSON: {"name": "<component>"}');
    }
    if (typeof name !== "string") return detail(422, 'The body must be JSON: {"name": "<component>"}');
    const { host, hostname } = new URL(request.url);
    const scheme = hostname === "localhost" || hostname === "127.0.0.1" ? "http:" : "";
    const base = `${scheme}//${host}/ui/${encodeURIComponent(namespace)}`;
    const html: string[] = [];
    for (const basename of assets.keys()) {
      if (path.extname(basename) === ".css")
        html.push(`<link rel="stylesheet" href="${attribute(`${base}/${encodeURIComponent(basename)}`)}" />`);
    }
    const script = [...assets.keys()].find((basename) => path.extname(basename) === ".js");
    if (script) {
      const global = `__LGUI_${namespace.replace(/[^a-zA-Z0-9]/g, "_")}`;
      const onload = `${global}.render(${JSON.stringify(name)}, "{{shadowRootId}}")`;
      html.push(`<script src="${attribute(`${base}/${encodeURIComponent(script)}`)}" onload='${attribute(onload)}'></script>`);
    }
    return new Response(html.join("\n"), { headers: { "content-type": "text/html; charset=utf-8" } });
  }

  function asset(namespace: string, basename: string): Response {
    const contents = files.get(namespace)?.get(basename);
    if (!contents) return detail(404, `File not found: ${basename}`);
    return new Response(contents, {
      headers: {
        "content-type": CONTENT_TYPES[path.extname(basename)] ?? "application/octet-stream",
        "x-content-type-options": "nosniff",
      },
    });
  }

  return {
    namespaces: [...files.keys()],
    async fetch(request) {
      let parts: string[];
      try {
        parts = new URL(request.url).pathname.split("/").slice(2).map(decodeURIComponent);
      } catch {
        return detail(404, "Not Found");
      }
      if (request.method === "POST" && parts.length === 1) return component(request, parts[0] as string);
      if ((request.method === "GET" || request.method === "HEAD") && parts.length === 2)
        return asset(parts[0] as string, parts[1] as string);
      return detail(404, "Not Found");
    },
  };
}
