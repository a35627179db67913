// One formatter for every date on a page: building one per call costs more than the rest of a row's render.
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function when(iso?: string | null): string {
  return iso ? DATE_TIME.format(new Date(iso)) : "";
}

export function seconds(value?: number | null): string {
  if (value === null || value === undefined) return "";
  if (value < 60) return `${value.toFixed(1)} s`;
  const m = Math.floor(value / 60);
  return `${m} min ${Math.round(value - m * 60)} s`;
}

export function ms(value?: number | null): string {
  return value === null || value === undefined ? "" : `${Math.round(value * 1000)} ms`;
}

export const STATUS_LABELS: Record<string, string> = {
  live: "live",
  ended: "ended",
  agent_lost: "agent lost",
  pending: "pending",
  erased: "erased",
};
