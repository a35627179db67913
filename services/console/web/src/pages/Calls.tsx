import { type FormEvent, useEffect } from "react";
import { Link, useSearchParams } from "../router";
import { DataTable } from "../components/DataTable";
import { callsPath, markShown } from "../data";
import { seconds, STATUS_LABELS, when } from "../format";
import type { CallRow, Page } from "../types";
import { useApi } from "../useApi";

const FILTERS = ["user_id", "since", "until", "status"] as const;

export function CallsPage() {
  const [params, setParams] = useSearchParams();
  const { data, error, loading } = useApi<Page<CallRow>>(callsPath(params));
  useEffect(() => {
    if (data) markShown("calls");
  }, [data]);
  const apply = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const name of FILTERS) {
      const value = String(form.get(name) ?? "").trim();
      if (value) next.set(name, value);
    }
    setParams(next); // a new filter starts from the newest call
  };
  const older = () => {
    const next = new URLSearchParams(params);
    next.set("cursor", data?.next_cursor ?? "");
    setParams(next);
  };
  return (
    <section>
      <h1>Calls</h1>
      <form className="filters" onSubmit={apply} aria-label="Filter calls">
        <label>
          User <input name="user_id" defaultValue={params.get("user_id") ?? ""} />
        </label>
        <label>
          From <input name="since" type="datetime-local" defaultValue={params.get("since") ?? ""} />
        </label>
        <label>
          To <input name="until" type="datetime-local" defaultValue={params.get("until") ?? ""} />
        </label>
        <label>
          Status{" "}
          <select name="status" defaultValue={params.get("status") ?? ""}>
            <option value="">any</option>
            {Object.entries(STATUS_LABELS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      <DataTable
        caption="Calls, newest first"
        columns={["Started", "User", "Duration", "Turns", "Status"]}
        busy={loading}
        empty={data?.items.length === 0 && "No calls match."}
      >
        {data?.items.map((call) => (
          <tr key={call.conversation_id} data-testid="call-row">
            <td>
              <Link to={`/calls/${encodeURIComponent(call.conversation_id)}`}>{when(call.started_at)}</Link>
            </td>
            <td>{call.user_id ?? ""}</td>
            <td>{seconds(call.duration_seconds)}</td>
            <td>{call.turns ?? ""}</td>
            <td>
              <span className={`status status-${call.status}`}>{STATUS_LABELS[call.status] ?? call.status}</span>
            </td>
          </tr>
        ))}
      </DataTable>
      <div className="pager">
        {params.get("cursor") && (
          <button type="button" onClick={() => { const next = new URLSearchParams(params); next.delete("cursor"); setParams(next); }}>
            Newest
          </button>
        )}
        {data?.next_cursor && (
          <button type="button" onClick={older}>
            Older calls
          </button>
        )}
      </div>
    </section>
  );
}
