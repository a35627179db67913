import { type FormEvent, useState } from "react";
import { api, ApiError } from "../api";
import { callPath } from "../data";
import { Link, useNavigate } from "../router";
import { useMe } from "../session";
import { allows, type Joining, type Simulating, type TalkOptions } from "../types";
import { useApi } from "../useApi";
import { useLiveKitCall } from "../useLiveKitCall";

interface CallFields {
  user_id: string;
  instructions?: string;
  language?: string;
}

function fields(form: HTMLFormElement): CallFields {
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "").trim() || undefined;
  return { user_id: text("user_id") ?? "console", instructions: text("instructions"), language: text("language") };
}

// The call appears in history a moment after the agent takes it: wait for that before following it.
async function whenStored(conversationId: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    try {
      await api(callPath(conversationId));
      return;
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function Microphone({ url }: { url: string }) {
  const call = useLiveKitCall();
  const [joined, setJoined] = useState<Joining | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const me = useMe();
  const start = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setFailed(null);
    try {
      const joining = await api<Joining>("/api/talk", { method: "POST", body: JSON.stringify(fields(e.currentTarget)) });
      setJoined(joining);
      await call.join(joining);
    } catch (err) {
      setFailed(err instanceof Error ? err.message : String(err));
    }
  };
  const inCall = call.state === "connecting" || call.state === "connected";
  return (
    <section aria-labelledby="h-mic">
      <h2 id="h-mic">Talk with your microphone</h2>
      <p>Joins the LiveKit server at {url} with a token from rooms.</p>
      <form data-testid="talk" onSubmit={start} className="filters">
        <CallInputs />
        <button type="submit" data-testid="talk-start" disabled={inCall || !allows(me, "rooms.write")}>
          Start talking
        </button>
        {inCall && (
          <button type="button" data-testid="hang-up" onClick={call.hangUp}>
            Hang up
          </button>
        )}
      </form>
      {(failed || call.error) && <p role="alert" className="error">Could not join: {failed ?? call.error}</p>}
      <p role="status" data-testid="call-state">
        {call.state === "idle" ? "" : `Call: ${call.state}`}
        {call.agentState ? ` · agent ${call.agentState}` : ""}
      </p>
      {joined && (
        <p>
          <Link to={`/calls/${encodeURIComponent(joined.conversation_id)}`}>This call in the call log</Link>
        </p>
      )}
      <ol className="turns" aria-label="Live transcript" aria-live="polite">
        {call.said.map((l) => (
          <li key={l.id} className={`turn turn-${l.mine ? "user" : "agent"}`}>
            <span className="speaker">{l.mine ? "You" : "Agent"}</span> <span className="text">{l.text}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}

function CallInputs() {
  return (
    <>
      <label>
        User id <input name="user_id" defaultValue="console" required maxLength={256} />
      </label>
      <label>
        Instructions <input name="instructions" maxLength={8000} />
      </label>
      <label>
        Language <input name="language" placeholder="en" maxLength={16} />
      </label>
    </>
  );
}

function SimulatedCall() {
  const [lines, setLines] = useState<string[]>(["Hello, I would like to book a table for two on Friday."]);
  const [status, setStatus] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const navigate = useNavigate();
  const me = useMe();
  const start = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setFailed(null);
    const said = lines.map((l) => l.trim()).filter(Boolean);
    try {
      setStatus("Starting the call…");
      const body = JSON.stringify({ ...fields(e.currentTarget), lines: said });
      const started = await api<Simulating>("/api/simulations", { method: "POST", body });
      setStatus("The agent took the call; opening it…");
      await whenStored(started.conversation_id);
      navigate(`/calls/${encodeURIComponent(started.conversation_id)}`);
    } catch (err) {
      setStatus(null);
      setFailed(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <section aria-labelledby="h-sim">
      <h2 id="h-sim">Simulated call</h2>
      <p>You write the caller's lines; a synthesized caller says them to the agent, and the call page follows it.</p>
      <form data-testid="simulate" onSubmit={start} className="simulate">
        <div className="filters">
          <CallInputs />
        </div>
        <ol>
          {lines.map((line, i) => (
            <li key={i}>
              <label>
                Caller's line {i + 1}{" "}
                <input data-testid="simulate-line" value={line} maxLength={500} size={60}
                  onChange={(e) => setLines(lines.map((l, j) => (j === i ? e.target.value : l)))} />
              </label>
            </li>
          ))}
        </ol>
        <p>
          <button type="button" className="secondary" disabled={lines.length >= 20}
            onClick={() => setLines([...lines, ""])}>
            Add a line
          </button>{" "}
          <button type="submit" data-testid="simulate-start" disabled={!allows(me, "rooms.write") || !!status}>
            Start the simulated call
          </button>
        </p>
      </form>
      <p role="status">{status}</p>
      {failed && <p role="alert" className="error">{failed}</p>}
    </section>
  );
}

export function TalkPage() {
  const { data, error } = useApi<TalkOptions>("/api/talk");
  return (
    <section>
      <h1>Talk to the agent</h1>
      {error && <p role="alert" className="error">{error}</p>}
      {data?.livekit_url ? (
        <Microphone url={data.livekit_url} />
      ) : (
        data && (
          <p data-testid="no-livekit">
            No LiveKit server is configured (CONSOLE_LIVEKIT_URL), so there is no microphone call here. A simulated
            call goes through the same rooms API and the same events.
          </p>
        )
      )}
      <SimulatedCall />
    </section>
  );
}
