import { useEffect, useRef, useState } from "react";
import { Link } from "../router";
import { AnalysisView } from "../components/AnalysisView";
import { LatencyBars } from "../components/LatencyBars";
import { Timeline } from "../components/Timeline";
import { callPath, markShown } from "../data";
import { seconds, when } from "../format";
import { api } from "../api";
import { ConfirmButton } from "../components/Confirm";
import { useMe } from "../session";
import { allows, type CallDetail, type Recording, type Session, type Turn } from "../types";
import { useApi } from "../useApi";
import { useLive } from "../useLive";

const content = (r: Recording) => `/api/recordings/${r.id}/content`;

function recordingsOf(detail: CallDetail, sessionId: string) {
  const mine = detail.recordings.filter((r) => r.session_id === sessionId);
  return {
    audio: mine.find((r) => r.kind === "audio"),
    vtt: mine.find((r) => r.kind === "transcript" && r.format === "vtt"),
    json: mine.find((r) => r.kind === "transcript" && r.format === "json"),
  };
}

function Usage({ session }: { session: Session }) {
  const u = session.usage;
  if (!u) return null;
  return (
    <p className="usage">
      Usage: {u.prompt_tokens ?? 0} prompt and {u.completion_tokens ?? 0} completion tokens, {u.tts_characters ?? 0}{" "}
      characters spoken, {seconds(u.stt_audio_seconds ?? 0)} of speech recognized
    </p>
  );
}

function TurnRow({ turn, active, onSeek }: { turn: Turn; active: boolean; onSeek?: (t: Turn) => void }) {
  const who = turn.role === "user" ? "Caller" : (turn.agent ?? "Agent");
  return (
    <li
      data-testid="turn-row"
      id={`turn-${turn.session_id}-${turn.seq}`}
      className={`turn turn-${turn.role}${active ? " active" : ""}`}
      aria-current={active ? "true" : undefined}
      onClick={() => onSeek?.(turn)}
    >
      <div className="turn-head">
        <span className="speaker">{who}</span>
        <time dateTime={turn.occurred_at}>{when(turn.occurred_at)}</time>
        {turn.interrupted && <span className="interrupted">interrupted</span>}
        {onSeek && (
          <button type="button" className="seek" onClick={(e) => { e.stopPropagation(); onSeek(turn); }}>
            Play from turn {turn.seq}
          </button>
        )}
      </div>
      <p className="text">{turn.text}</p>
      <LatencyBars metrics={turn.metrics} />
    </li>
  );
}

function SessionView({ detail, session, index }: { detail: CallDetail; session: Session; index: number }) {
  const audioRef = useRef<HTMLAudioElement>(null);
  const [activeSeq, setActiveSeq] = useState<number | null>(null);
  const { audio, vtt, json } = recordingsOf(detail, session.id);
  useEffect(() => {
    const track = audioRef.current?.textTracks[0];
    if (!track) return;
    track.mode = "showing"; // loads the cues, which seeking and the active turn use
    const onCue = () => {
      const cue = track.activeCues?.[0] as VTTCue | undefined;
      setActiveSeq(cue ? Number(cue.id) : null);
    };
    track.addEventListener("cuechange", onCue);
    return () => track.removeEventListener("cuechange", onCue);
  }, [audio?.id, vtt?.id]);
  const seek = (turn: Turn) => {
    const player = audioRef.current;
    if (!player) return;
    const cues = player.textTracks[0]?.cues;
    const cue = cues ? Array.from(cues).find((c) => c.id === String(turn.seq)) : undefined;
    const offset = session.started_at ? (Date.parse(turn.occurred_at) - Date.parse(session.started_at)) / 1000 : 0;
    player.currentTime = Math.max(0, cue ? cue.startTime : offset);
    void player.play().catch(() => undefined); // a browser may refuse to play without a gesture: the seek holds
  };
  return (
    <section id={`session-${session.id}`} className="session" aria-labelledby={`h-${session.id}`}>
      <h2 id={`h-${session.id}`}>
        Session {index + 1}
        {session.agent_name ? ` with ${session.agent_name}` : ""}
      </h2>
      <p className="meta">
        {when(session.started_at)} · {session.status}
        {session.end_reason ? ` (${session.end_reason.replaceAll("_", " ")})` : ""} ·{" "}
        {seconds(session.duration_seconds)} · room {session.room_name ?? "?"}
      </p>
      <Usage session={session} />
      {session.ended_at && <AnalysisView analysis={session.analysis} />}
      {audio && (
        <audio ref={audioRef} data-testid="player" controls preload="metadata" src={content(audio)}>
          {vtt && <track kind="captions" src={content(vtt)} srcLang="en" label="Transcript" default />}
        </audio>
      )}
      {(vtt || json) && (
        <p className="downloads">
          {json && (
            <a href={`${content(json)}?download=true`} download={`transcript-${session.id}.json`}>
              Transcript (JSON)
            </a>
          )}
          {vtt && (
            <a href={`${content(vtt)}?download=true`} download={`transcript-${session.id}.vtt`}>
              Transcript (WebVTT)
            </a>
          )}
        </p>
      )}
      {session.handoffs.length > 0 && (
        <ul className="handoffs" aria-label="Handoffs">
          {session.handoffs.map((h) => (
            <li key={h.event_id}>
              {when(h.at)}: {h.from_agent ?? "the first agent"} handed the call to {h.to_agent}
              {h.reason ? ` (${h.reason})` : ""}
            </li>
          ))}
        </ul>
      )}
      <ol className="turns" aria-label={`Turns of session ${index + 1}`}>
        {session.turns.map((t) => (
          <TurnRow key={`${t.session_id}-${t.seq}`} turn={t} active={t.seq === activeSeq} onSeek={audio ? seek : undefined} />
        ))}
      </ol>
    </section>
  );
}

function EraseCall({ id }: { id: string }) {
  const me = useMe();
  const [said, setSaid] = useState<string | null>(null);
  const erase = async () => {
    try {
      await api(callPath(id), { method: "DELETE" });
      setSaid("Erasure requested: every service is deleting this conversation.");
    } catch (e) {
      setSaid(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <p className="actions">
      <ConfirmButton label="Erase this conversation" testId="erase" disabled={!allows(me, "history.erase") || !!said}
        question="Erase everything of this conversation, everywhere, for good?" onConfirm={erase} />{" "}
      <span role="status" data-testid="erase-status">{said}</span>
    </p>
  );
}

export function CallPage({ id }: { id: string }) {
  const { data, error } = useApi<CallDetail>(callPath(id));
  const detail = useLive(id, data);
  useEffect(() => {
    if (data) markShown("call");
  }, [data]);
  useEffect(() => {
    // A link to one turn (a search hit): show it once the call is on screen.
    if (data && location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView({ block: "center" });
  }, [data]);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!detail) return <p aria-busy="true">Loading…</p>;
  if (detail.erased) {
    return (
      <section>
        <h1>Call {id}</h1>
        <p>This conversation was erased on request ({when(detail.erased.requested_at)}): nothing of it is kept.</p>
        <Link to="/calls">Back to the calls</Link>
      </section>
    );
  }
  const live = detail.sessions.some((s) => s.started_at && !s.ended_at);
  return (
    <section>
      <h1>
        Call with {detail.conversation.user_id ?? "an unknown caller"}{" "}
        {live && (
          <span data-testid="live" className="live" role="status">
            Live
          </span>
        )}
      </h1>
      <p className="meta">Conversation {detail.conversation.id}</p>
      <EraseCall id={detail.conversation.id} />
      <Timeline sessions={detail.sessions} />
      {detail.sessions.map((s, i) => (
        <SessionView key={s.id} detail={detail} session={s} index={i} />
      ))}
    </section>
  );
}
