import { type ReactNode, useEffect } from "react";

interface PageProps {
  title: ReactNode;
  /** The browser tab's title when `title` is not plain text. */
  documentTitle?: string;
  subtitle?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
}

/** The frame of every page: its heading, optional actions beside it, then its content. */
export function Page({ title, documentTitle, subtitle, actions, children }: PageProps) {
  const tabTitle = documentTitle ?? (typeof title === "string" ? title : undefined);
  useEffect(() => {
    document.title = tabTitle ? `${tabTitle} · LangOpen` : "LangOpen";
  }, [tabTitle]);
  return (
    <div className="page">
      <header className="page-header">
        <div className="page-heading">
          <h1>{title}</h1>
          {subtitle && <div className="page-subtitle">{subtitle}</div>}
        </div>
        {actions && <div className="page-actions">{actions}</div>}
      </header>
      {children}
    </div>
  );
}

/** A titled block inside a page. */
export function Section({ title, actions, children }: { title: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="section">
      <div className="section-header">
        <h2>{title}</h2>
        {actions && <div className="section-actions">{actions}</div>}
      </div>
      {children}
    </section>
  );
}
