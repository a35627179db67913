import { seconds, when } from "../format";
import type { Session } from "../types";

// The call's sessions on one time axis: when each began and how long it lasted.
export function Timeline({ sessions }: { sessions: Session[] }) {
  const spans = sessions
    .filter((s) => s.started_at)
    .map((s) => {
      const start = Date.parse(s.started_at!);
      const end = s.ended_at ? Date.parse(s.ended_at) : Date.now();
      return { s, start, end: Math.max(end, start + 1000) };
    });
  if (spans.length === 0) return null;
  const first = Math.min(...spans.map((x) => x.start));
  const last = Math.max(...spans.map((x) => x.end));
  const total = Math.max(1, last - first);
  return (
    <ol className="timeline" aria-label="Sessions on a timeline">
      {spans.map(({ s, start, end }, i) => (
        <li key={s.id}>
          <span className="timeline-label">
            <a href={`#session-${s.id}`}>Session {i + 1}</a> {when(s.started_at)}, {seconds((end - start) / 1000)}
            {s.end_reason ? `, ${s.end_reason.replaceAll("_", " ")}` : ""}
          </span>
          <span className="timeline-track" aria-hidden="true">
            <span
              className={`timeline-span status-${s.ended_at ? "ended" : "live"}`}
              style={{ left: `${((start - first) / total) * 100}%`, width: `${Math.max(1, ((end - start) / total) * 100)}%` }}
            />
          </span>
        </li>
      ))}
    </ol>
  );
}
