// What the console's API (/api) answers: the shapes of history's and recordings' data, as the console passes them.

export type Status = "live" | "ended" | "agent_lost" | "pending" | "erased";

export interface CallRow {
  conversation_id: string;
  user_id?: string | null;
  started_at: string;
  last_activity_at?: string;
  sessions?: number;
  turns?: number;
  duration_seconds?: number | null;
  status: Status;
  erased_at?: string;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface TurnMetrics {
  transcription_delay?: number | null;
  end_of_turn_delay?: number | null;
  llm_ttft?: number | null;
  tts_ttfb?: number | null;
  e2e_latency?: number | null;
}

export interface Turn {
  event_id: string;
  session_id: string;
  seq: number;
  role: "user" | "assistant";
  text: string;
  interrupted: boolean;
  occurred_at: string;
  started_at?: string | null;
  metrics?: TurnMetrics | null;
  agent?: string | null;
}

export interface Handoff {
  event_id: string;
  from_agent?: string | null;
  to_agent: string;
  reason?: string | null;
  at: string;
}

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  tts_characters?: number;
  stt_audio_seconds?: number;
}

export interface Session {
  id: string;
  conversation_id: string;
  room_name?: string | null;
  agent_name?: string | null;
  user_id?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
  end_reason?: string | null;
  duration_seconds?: number | null;
  status: string;
  usage?: Usage | null;
  turns: Turn[];
  handoffs: Handoff[];
  analysis?: Analysis | null;
}

export interface CostItem {
  component: string;
  provider: string;
  model: string;
  unit: string;
  quantity: number;
  unit_price: number;
  amount: number;
  unpriced?: boolean;
}

export interface Analysis {
  revision: number;
  status: "ok" | "failed";
  analyzer: string;
  analyzed_at: string;
  summary?: string | null;
  data_schema?: string | null;
  data?: Record<string, unknown> | null;
  evaluation?: { passed: boolean; score: number; reason?: string } | null;
  failure?: string | null;
  cost?: { currency: string; total: number; price_table: string; items?: CostItem[] } | null;
}

export interface Recording {
  id: string;
  session_id: string;
  kind: string;
  format: string;
  content_type: string;
  bytes: number;
  provisional?: boolean;
}

export interface CallDetail {
  conversation: { id: string; user_id?: string | null; started_at?: string };
  sessions: Session[];
  recordings: Recording[];
  erased?: { requested_at: string; status: string };
}

export interface Fragment {
  text: string;
  match: boolean;
}

export interface SearchHit {
  conversation_id: string;
  session_id: string;
  seq: number;
  role: string;
  occurred_at: string;
  fragments: Fragment[];
}

export interface Me {
  name: string;
  via: string;
  expires_at?: string | null;
  scopes: string[];
}

export function allows(me: Me | null, scope: string): boolean {
  return !!me && (me.scopes.includes("*") || me.scopes.includes(scope));
}

export interface TalkOptions {
  livekit_url: string | null;
  simulate: boolean;
}

export interface Joining {
  room: string;
  conversation_id: string;
  url: string;
  token: string;
  identity: string;
}

export interface Simulating {
  room: string;
  conversation_id: string;
}

export interface RoomRow {
  name: string;
  status: string;
  conversation_id: string;
  user_id?: string | null;
  created_at: string;
  agent_redispatches: number;
  agent_state: string;
  participants?: { identity: string; kind: string; joined_at?: string | null; left_at?: string | null }[] | null;
}

export interface ConsumerState {
  name: string;
  pending: number | null;
  ack_pending: number | null;
  redelivered: number | null;
  last_active: string | null;
  found: boolean;
}

export interface DeadLetter {
  seq: number;
  died_at: string | null;
  subject: string;
  event_id: string;
  consumer: string;
  deliveries: string;
  reason: string;
}

export interface Erasure {
  conversation_id: string;
  requested_at: string;
  status: string;
}
