// The filters of the list pages, kept in the URL: a field searched as one types, a select of
// values. Changing either goes back to the first page.
import { useEffect, useId, useRef, useState } from "react";
import { useSearchParams } from "react-router";

/**
 * A search term kept in the URL (?key=): the text as typed, and the term searched, which follows it
 * (replacing the URL's entry) once typing pauses for `pauseMs`.
 */
export function useTypedParam(key: string, pauseMs: number) {
  const [params, setParams] = useSearchParams();
  const value = params.get(key) ?? "";
  const [typed, setTyped] = useState(value);
  const pushed = useRef(value);

  // The URL changed under the field (back, forward, a link): the field follows it.
  useEffect(() => {
    if (value !== pushed.current) {
      pushed.current = value;
      setTyped(value);
    }
  }, [value]);

  useEffect(() => {
    if (typed === value) return;
    const timer = setTimeout(() => {
      pushed.current = typed;
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          if (typed) next.set(key, typed);
          else next.delete(key);
          next.delete("page");
          return next;
        },
        { replace: true },
      );
    }, pauseMs);
    return () => clearTimeout(timer);
  }, [typed, value, key, pauseMs, setParams]);

  return { value, typed, setTyped };
}

interface ParamSelectProps {
  label: string;
  /** The URL parameter chosen (?param=). */
  param: string;
  value: string;
  /** The first option's text, for no value (every row). */
  anyLabel: string;
  options: readonly string[];
  id?: string;
}

/** A select filtering a list by one URL parameter. */
export function ParamSelect({ label, param, value, anyLabel, options, id }: ParamSelectProps) {
  const [params, setParams] = useSearchParams();
  const ownId = useId();
  const selectId = id ?? ownId;
  return (
    <div className="field">
      <label htmlFor={selectId}>{label}</label>
      <select
        id={selectId}
        value={value}
        onChange={(event) => {
          const next = new URLSearchParams(params);
          if (event.target.value) next.set(param, event.target.value);
          else next.delete(param);
          next.delete("page");
          setParams(next);
        }}
      >
        <option value="">{anyLabel}</option>
        {options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The field of a search term kept in the URL (see useTypedParam). */
export function TypedSearchField({
  label,
  placeholder,
  search,
}: {
  label: string;
  placeholder: string;
  search: ReturnType<typeof useTypedParam>;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="search"
        value={search.typed}
        placeholder={placeholder}
        onChange={(event) => search.setTyped(event.target.value)}
      />
    </div>
  );
}
