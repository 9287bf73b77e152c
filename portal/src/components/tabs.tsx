import { NavLink, useLocation } from "react-router";

export interface TabLink {
  /** Relative to the current route's parent, e.g. "graph". */
  to: string;
  label: string;
}

/** Tabs that are links: each tab has its own URL, and the search params travel along. */
export function Tabs({ tabs, label }: { tabs: TabLink[]; label: string }) {
  const { search } = useLocation();
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map((tab) => (
        <NavLink key={tab.to} to={{ pathname: tab.to, search }} className="tab">
          {tab.label}
        </NavLink>
      ))}
    </nav>
  );
}
