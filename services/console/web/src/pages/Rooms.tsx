import { useState } from "react";
import { api } from "../api";
import { ConfirmButton } from "../components/Confirm";
import { DataTable } from "../components/DataTable";
import { when } from "../format";
import { Link } from "../router";
import { useMe } from "../session";
import { allows, type RoomRow } from "../types";
import { useApi } from "../useApi";

function age(iso: string): string {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function RoomsPage() {
  const [version, setVersion] = useState(0);
  const { data, error, loading } = useApi<RoomRow[]>(`/api/rooms?v=${version}`);
  const [failed, setFailed] = useState<string | null>(null);
  const me = useMe();
  const end = async (name: string) => {
    setFailed(null);
    try {
      await api(`/api/rooms/${encodeURIComponent(name)}`, { method: "DELETE" });
      setVersion((v) => v + 1);
    } catch (e) {
      setFailed(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section>
      <h1>Rooms</h1>
      <p>
        Rooms waiting for their agent or in a call.{" "}
        <button type="button" className="secondary" onClick={() => setVersion((v) => v + 1)}>
          Refresh
        </button>
      </p>
      {(error || failed) && <p role="alert" className="error">{error ?? failed}</p>}
      <DataTable
        caption="Open rooms, newest first"
        columns={["Room", "Caller", "Participants", "Agent", "Re-dispatches", "Age", "Action"]}
        busy={loading}
        empty={data?.length === 0 && "No open room."}
      >
        {data?.map((r) => (
          <tr key={r.name} data-testid="room-row">
            <td>
              <Link to={`/calls/${encodeURIComponent(r.conversation_id)}`}>{r.name}</Link>
            </td>
            <td>{r.user_id ?? ""}</td>
            <td>
              {(r.participants ?? []).filter((p) => !p.left_at).map((p) => `${p.identity} (${p.kind})`).join(", ") ||
                "none"}
            </td>
            <td>{r.agent_state}</td>
            <td>{r.agent_redispatches}</td>
            <td title={when(r.created_at)}>{age(r.created_at)}</td>
            <td>
              <ConfirmButton
                label={`End room ${r.name}`}
                question={`End room ${r.name} for everyone in it?`}
                testId="room-end"
                disabled={!allows(me, "rooms.write")}
                onConfirm={() => end(r.name)}
              />
            </td>
          </tr>
        ))}
      </DataTable>
    </section>
  );
}
