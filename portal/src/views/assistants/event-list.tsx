import { memo, useEffect, useId, useMemo, useRef, useState } from "react";
import { JsonView } from "../../components/json-view";
import { eventPreview, type StreamEvent } from "./run-events";

/** How close to the bottom (px) the list must be to keep following new events. */
const STICK_PX = 40;

/** The run's events as they arrive: name, one-line preview, and the JSON on request. */
export function EventList({ events, dropped }: { events: StreamEvent[]; dropped: number }) {
  const [filter, setFilter] = useState("");
  const filterId = useId();
  const list = useRef<HTMLOListElement>(null);
  const stuck = useRef(true);
  const names = useMemo(() => [...new Set(events.map((event) => event.event))].sort(), [events]);
  const shown = filter ? events.filter((event) => event.event === filter) : events;

  // Follow the newest event unless the reader scrolled up to look at an older one.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when events arrive
  useEffect(() => {
    const element = list.current;
    if (element && stuck.current) element.scrollTop = element.scrollHeight;
  }, [shown.length]);

  return (
    <div className="events">
      <div className="events-head">
        <h3>
          Events <span className="muted">({events.length + dropped})</span>
        </h3>
        {names.length > 1 && (
          <div className="field field-inline">
            <label htmlFor={filterId}>Show</label>
            <select id={filterId} value={filter} onChange={(event) => setFilter(event.target.value)}>
              <option value="">all events</option>
              {names.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>
      {events.length === 0 ? (
        <p className="muted">No events yet.</p>
      ) : (
        <ol
          ref={list}
          className="event-list"
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable list must be focusable to scroll by keyboard
          tabIndex={0}
          aria-label="Run events"
          onScroll={(event) => {
            const element = event.currentTarget;
            stuck.current = element.scrollHeight - element.scrollTop - element.clientHeight < STICK_PX;
          }}
        >
          {dropped > 0 && <li className="muted">{dropped} earlier events are not kept.</li>}
          {shown.map((event) => (
            <EventItem key={event.seq} event={event} />
          ))}
        </ol>
      )}
    </div>
  );
}

const EventItem = memo(function EventItem({ event }: { event: StreamEvent }) {
  const [open, setOpen] = useState(false);
  const preview = useMemo(() => eventPreview(event.event, event.data), [event]);
  return (
    <li className={`event event-${event.event.split(/[|/]/)[0]}`}>
      <details onToggle={(toggle) => setOpen(toggle.currentTarget.open)}>
        <summary>
          <span className="event-name">{event.event}</span>
          <span className="event-preview">{preview}</span>
        </summary>
        {open && <JsonView value={event.data} expandDepth={3} />}
      </details>
    </li>
  );
});
