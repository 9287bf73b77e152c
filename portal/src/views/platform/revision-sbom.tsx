// A built revision's software bill of materials (CycloneDX, as its build wrote it into the bundle):
// every package the bundle carries, searchable, with the document itself to download.
import { useQuery } from "@connectrpc/connect-query";
import { DeploymentService } from "@langopen/gen/langopen/control/v1/deployment_service_pb";
import { useEffect, useMemo, useState } from "react";
import { Section } from "../../components/page";
import { QueryView } from "../../components/query-view";

export interface SbomComponent {
  name: string;
  version: string;
  purl: string;
  licenses: string;
}

/** The components of a CycloneDX document (what it lists at the top level), sorted by name. */
export function sbomComponents(document: unknown): SbomComponent[] {
  const components = (document as { components?: unknown })?.components;
  if (!Array.isArray(components)) return [];
  const text = (value: unknown) => (typeof value === "string" ? value : "");
  return components
    .map((raw) => {
      const component = (raw ?? {}) as Record<string, unknown>;
      const group = text(component.group);
      const licenses = Array.isArray(component.licenses)
        ? component.licenses
            .map((entry) => {
              const license = (entry as { license?: { id?: unknown; name?: unknown }; expression?: unknown }) ?? {};
              return text(license.license?.id) || text(license.license?.name) || text(license.expression);
            })
            .filter(Boolean)
            .join(", ")
        : "";
      return {
        name: group ? `${group}/${text(component.name)}` : text(component.name),
        version: text(component.version),
        purl: text(component.purl),
        licenses,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const SHOWN = 200;

export function RevisionSbom({ revisionId }: { revisionId: string }) {
  const query = useQuery(DeploymentService.method.getRevisionSbom, { revisionId });
  const [filter, setFilter] = useState("");
  const parsed = useMemo(() => {
    const bytes = query.data?.sbomJson;
    if (!bytes) return undefined;
    const text = new TextDecoder().decode(bytes);
    try {
      return { text, components: sbomComponents(JSON.parse(text)) };
    } catch {
      return { text, components: [] };
    }
  }, [query.data]);
  const href = useMemo(
    () => (parsed ? URL.createObjectURL(new Blob([parsed.text], { type: "application/json" })) : undefined),
    [parsed],
  );
  useEffect(() => () => (href ? URL.revokeObjectURL(href) : undefined), [href]);
  const needle = filter.trim().toLowerCase();
  const matching = (parsed?.components ?? []).filter(
    (c) => needle === "" || c.name.toLowerCase().includes(needle) || c.licenses.toLowerCase().includes(needle),
  );
  return (
    <Section title="Software bill of materials">
      <QueryView query={query} loading="Loading the SBOM…" errorContext="Could not load the SBOM">
        {() => (
          <>
            <p>
              {parsed?.components.length ?? 0} packages (CycloneDX).{" "}
              {href && (
                <a href={href} download={`sbom-${revisionId}.cdx.json`}>
                  Download the document
                </a>
              )}
            </p>
            <label htmlFor="sbom-filter">Find a package or licence</label>
            <input id="sbom-filter" type="search" value={filter} onChange={(event) => setFilter(event.target.value)} />
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Packages of the revision</caption>
                <thead>
                  <tr>
                    <th scope="col">Package</th>
                    <th scope="col">Version</th>
                    <th scope="col">Licence</th>
                  </tr>
                </thead>
                <tbody>
                  {matching.slice(0, SHOWN).map((component) => (
                    <tr key={component.purl || `${component.name}@${component.version}`}>
                      <td>
                        <code>{component.name}</code>
                      </td>
                      <td>{component.version}</td>
                      <td>{component.licenses || <span className="muted">—</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {matching.length > SHOWN && (
              <p className="muted">
                {SHOWN} of {matching.length} shown: narrow the search, or download the document.
              </p>
            )}
          </>
        )}
      </QueryView>
    </Section>
  );
}
