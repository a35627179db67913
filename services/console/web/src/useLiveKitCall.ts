// A call from this browser through LiveKit: join with a token from rooms, the microphone on, the agent's voice
// played, its state (`lk.agent.state`) and the live transcript (`lk.transcription` text streams) followed.
import { Room, RoomEvent, Track } from "livekit-client";
import { useEffect, useRef, useState } from "react";
import type { Joining } from "./types";

export type CallState = "idle" | "connecting" | "connected" | "failed" | "ended";

export interface Said {
  id: string;
  mine: boolean;
  text: string;
  final: boolean;
}

export function useLiveKitCall() {
  const [state, setState] = useState<CallState>("idle");
  const [agentState, setAgentState] = useState<string | null>(null);
  const [said, setSaid] = useState<Said[]>([]);
  const [error, setError] = useState<string | null>(null);
  const roomRef = useRef<Room | null>(null);
  useEffect(() => () => void roomRef.current?.disconnect(), []);

  const heard = (line: Said) =>
    setSaid((all) => (all.some((l) => l.id === line.id) ? all.map((l) => (l.id === line.id ? line : l)) : [...all, line]));

  const join = async (joining: Joining) => {
    const room = new Room();
    roomRef.current = room;
    setSaid([]);
    setError(null);
    room.on(RoomEvent.ParticipantAttributesChanged, (_changed, participant) => {
      const agent = participant.attributes["lk.agent.state"];
      if (agent) setAgentState(agent);
    });
    room.on(RoomEvent.TrackSubscribed, (track) => {
      if (track.kind === Track.Kind.Audio) document.body.appendChild(track.attach());
    });
    room.on(RoomEvent.Disconnected, () => setState((s) => (s === "failed" ? s : "ended")));
    room.registerTextStreamHandler("lk.transcription", async (reader, from) => {
      const id = reader.info.attributes?.["lk.segment_id"] ?? reader.info.id;
      const mine = from.identity === joining.identity;
      let text = "";
      for await (const chunk of reader) {
        text += chunk;
        heard({ id, mine, text, final: false });
      }
      heard({ id, mine, text, final: true });
    });
    setState("connecting");
    try {
      await room.connect(joining.url, joining.token);
      await room.localParticipant.setMicrophoneEnabled(true);
      setState("connected");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setState("failed");
      await room.disconnect();
    }
  };

  const hangUp = async () => {
    await roomRef.current?.disconnect();
    setState("ended");
  };
  return { state, agentState, said, error, join, hangUp };
}
