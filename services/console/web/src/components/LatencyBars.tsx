import type { CSSProperties } from "react";
import { ms } from "../format";
import type { TurnMetrics } from "../types";

const STAGES: [keyof TurnMetrics, string][] = [
  ["transcription_delay", "transcription"],
  ["end_of_turn_delay", "end of turn"],
  ["llm_ttft", "LLM first token"],
  ["tts_ttfb", "TTS first byte"],
  ["e2e_latency", "end to end"],
];
const FULL_SCALE = 3; // seconds: a stage this long or longer fills its bar

// One element per stage: its name, its time, and a bar drawn by CSS from `--share` (0 to 1) (a long call has hundreds of
// turns, and each element of each row is rendering time).
export function LatencyBars({ metrics }: { metrics?: TurnMetrics | null }) {
  const stages = STAGES.filter(([key]) => typeof metrics?.[key] === "number");
  if (!metrics || stages.length === 0) return null;
  return (
    <ul className="latency" aria-label="Latency by stage">
      {stages.map(([key, label]) => {
        const value = metrics[key] as number;
        const share = { "--share": Math.min(1, value / FULL_SCALE) } as CSSProperties;
        return (
          <li key={key} className="stage" style={share}>
            {label} {ms(value)}
          </li>
        );
      })}
    </ul>
  );
}
