import { useState } from "react";
import { api } from "../api";
import { ConfirmButton } from "../components/Confirm";
import { DataTable } from "../components/DataTable";
import { when } from "../format";
import { Link } from "../router";
import { useMe } from "../session";
import { allows, type ConsumerState, type DeadLetter, type Erasure, type Page } from "../types";
import { useApi } from "../useApi";

function Consumers({ version }: { version: number }) {
  const { data, error, loading } = useApi<ConsumerState[]>(`/api/ops/consumers?v=${version}`);
  return (
    <section aria-labelledby="h-consumers">
      <h2 id="h-consumers">Consumers</h2>
      {error && <p role="alert" className="error">{error}</p>}
      <DataTable
        caption="Each service's consumer of the event stream"
        columns={["Consumer", "Backlog", "Unacknowledged", "Redelivered", "Last activity"]}
        busy={loading}
      >
        {data?.map((c) => (
          <tr key={c.name} data-testid="consumer-row">
            <th scope="row">{c.name}</th>
            {c.found ? (
              <>
                <td>{c.pending}</td>
                <td>{c.ack_pending}</td>
                <td>{c.redelivered}</td>
                <td>{when(c.last_active) || "never"}</td>
              </>
            ) : (
              <td colSpan={4}>missing: run `parley provision`</td>
            )}
          </tr>
        ))}
      </DataTable>
    </section>
  );
}

function DeadLetters({ version, changed }: { version: number; changed: () => void }) {
  const { data, error, loading } = useApi<DeadLetter[]>(`/api/ops/dead-letters?v=${version}`);
  const [said, setSaid] = useState<string | null>(null);
  const me = useMe();
  const may = allows(me, "ops.admin");
  const act = async (action: "replay" | "delete", choice: { seqs?: number[]; all?: boolean }) => {
    try {
      const { done } = await api<{ done: DeadLetter[] }>(`/api/ops/dead-letters/${action}`, {
        method: "POST",
        body: JSON.stringify(choice),
      });
      setSaid(`${action === "replay" ? "Replayed" : "Deleted"} ${done.length} dead letter(s).`);
    } catch (e) {
      setSaid(e instanceof Error ? e.message : String(e));
    }
    changed();
  };
  return (
    <section aria-labelledby="h-dlq">
      <h2 id="h-dlq">Dead letters</h2>
      {error && <p role="alert" className="error">{error}</p>}
      <p role="status">{said}</p>
      {data && data.length > 0 && (
        <p className="actions">
          <ConfirmButton label="Replay all" question={`Replay all ${data.length} dead letters?`} testId="dlq-replay-all"
            disabled={!may} onConfirm={() => act("replay", { all: true })} />{" "}
          <ConfirmButton label="Delete all" question={`Delete all ${data.length} dead letters for good?`}
            testId="dlq-delete-all" disabled={!may} onConfirm={() => act("delete", { all: true })} />
        </p>
      )}
      <DataTable
        caption="Events a consumer gave up on, oldest first"
        columns={["#", "Died", "Subject", "Consumer", "Reason", "Action"]}
        busy={loading}
        empty={data?.length === 0 && "No dead letter."}
      >
        {data?.map((d) => (
          <tr key={d.seq} data-testid="dlq-row">
            <td>{d.seq}</td>
            <td>{when(d.died_at)}</td>
            <td>{d.subject}</td>
            <td>{d.consumer}</td>
            <td>{d.reason}</td>
            <td>
              <ConfirmButton label="Replay" question={`Replay dead letter ${d.seq}?`} testId="dlq-replay"
                disabled={!may} onConfirm={() => act("replay", { seqs: [d.seq] })} />{" "}
              <ConfirmButton label="Delete" question={`Delete dead letter ${d.seq} for good?`} testId="dlq-delete"
                disabled={!may} onConfirm={() => act("delete", { seqs: [d.seq] })} />
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}

function Erasures({ version }: { version: number }) {
  const { data, error, loading } = useApi<Page<Erasure>>(`/api/ops/erasures?v=${version}`);
  return (
    <section aria-labelledby="h-erasures">
      <h2 id="h-erasures">Erasure requests</h2>
      {error && <p role="alert" className="error">{error}</p>}
      <DataTable
        caption="Erasure requests, newest first"
        columns={["Conversation", "Requested", "Status"]}
        busy={loading}
        empty={data?.items.length === 0 && "No erasure requested."}
      >
        {data?.items.map((e) => (
          <tr key={e.conversation_id} data-testid="erasure-row">
            <td>
              <Link to={`/calls/${encodeURIComponent(e.conversation_id)}`}>{e.conversation_id}</Link>
            </td>
            <td>{when(e.requested_at)}</td>
            <td>{e.status}</td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}

export function OpsPage() {
  const [version, setVersion] = useState(0);
  const again = () => setVersion((v) => v + 1);
  return (
    <section>
      <h1>Operations</h1>
      <button type="button" className="secondary" onClick={again}>
        Refresh
      </button>
      <Consumers version={version} />
      <DeadLetters version={version} changed={again} />
      <Erasures version={version} />
    </section>
  );
}
