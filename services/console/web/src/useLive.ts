import { useEffect, useState } from "react";
import type { CallDetail, Session, Turn } from "./types";

type LiveEvent = Record<string, unknown> & { kind: string; session_id: string };

function withTurn(sessions: Session[], turn: Turn): Session[] {
  return sessions.map((s) => {
    if (s.id !== turn.session_id || s.turns.some((t) => t.seq === turn.seq)) return s;
    return { ...s, turns: [...s.turns, turn].sort((a, b) => a.seq - b.seq) };
  });
}

function apply(detail: CallDetail, e: LiveEvent): CallDetail {
  let sessions = detail.sessions;
  if (!sessions.some((s) => s.id === e.session_id) && e.kind !== "SessionEnded") {
    const started = (e.started_at as string | undefined) ?? (e.occurred_at as string);
    sessions = [
      ...sessions,
      { id: e.session_id, conversation_id: detail.conversation.id, started_at: started, status: "active", turns: [], handoffs: [],
        agent_name: (e.agent_name as string | undefined) ?? null, room_name: (e.room_name as string | undefined) ?? null },
    ];
  }
  if (e.kind === "TurnCompleted") {
    sessions = withTurn(sessions, e as unknown as Turn);
  } else if (e.kind === "AgentHandoff") {
    sessions = sessions.map((s) =>
      s.id === e.session_id && !s.handoffs.some((h) => h.event_id === e.event_id)
        ? { ...s, handoffs: [...s.handoffs, { event_id: e.event_id as string, from_agent: e.from_agent as string, to_agent: e.to_agent as string, reason: e.reason as string, at: e.occurred_at as string }] }
        : s,
    );
  } else if (e.kind === "SessionEnded") {
    sessions = sessions.map((s) =>
      s.id === e.session_id ? { ...s, status: "ended", ended_at: e.ended_at as string, end_reason: e.reason as string } : s,
    );
  }
  return { ...detail, sessions };
}

// The call as it happens: the page's data, and every event of the call since (server-sent events from NATS)
// while one of its sessions is in progress or none has started yet.
export function useLive(id: string, loaded?: CallDetail): CallDetail | undefined {
  const [detail, setDetail] = useState(loaded);
  useEffect(() => setDetail(loaded), [loaded]);
  const following = !!loaded && !loaded.erased && (loaded.sessions.length === 0 || loaded.sessions.some((s) => !s.ended_at));
  useEffect(() => {
    if (!following) return;
    const source = new EventSource(`/api/calls/${encodeURIComponent(id)}/live`);
    const onEvent = (m: MessageEvent<string>) => {
      const event = JSON.parse(m.data) as LiveEvent;
      setDetail((d) => (d ? apply(d, event) : d));
    };
    for (const type of ["SessionStarted", "TurnCompleted", "AgentHandoff", "SessionEnded"]) {
      source.addEventListener(type, onEvent as EventListener);
    }
    return () => source.close();
  }, [id, following]);
  return detail;
}
