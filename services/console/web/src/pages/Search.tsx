import { type FormEvent } from "react";
import { Link, useSearchParams } from "../router";
import { searchPath } from "../data";
import { Fragments } from "../components/Fragments";
import { when } from "../format";
import type { SearchHit } from "../types";
import { useApi } from "../useApi";

export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const { data, error, loading } = useApi<{ items: SearchHit[]; next_offset?: number | null }>(searchPath(params));
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const value = String(new FormData(e.currentTarget).get("q") ?? "").trim();
    setParams(value ? { q: value } : {});
  };
  return (
    <section>
      <h1>Search transcripts</h1>
      <form role="search" onSubmit={submit}>
        <label htmlFor="q">Words</label>
        <input id="q" name="q" type="search" defaultValue={q} key={q} />
        <button type="submit">Search</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {q && !loading && data && data.items.length === 0 && <p>Nothing matches “{q}”.</p>}
      <ol className="hits">
        {q &&
          data?.items.map((hit) => (
            <li key={`${hit.session_id}-${hit.seq}`} data-testid="search-hit">
              <Link to={`/calls/${encodeURIComponent(hit.conversation_id)}#turn-${hit.session_id}-${hit.seq}`}>
                {hit.role === "user" ? "Caller" : "Agent"}, {when(hit.occurred_at)}
              </Link>
              <p>
                <Fragments fragments={hit.fragments} />
              </p>
            </li>
          ))}
      </ol>
      {q && data?.next_offset != null && (
        <button type="button" onClick={() => setParams({ q, offset: String(data.next_offset) })}>
          More results
        </button>
      )}
    </section>
  );
}
