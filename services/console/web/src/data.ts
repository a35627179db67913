// Which API answer each page shows, so main.tsx can ask for it while React is still starting (the page then
// finds it on its way), and the pages ask for the same.

export function instant(local: string | null): string | null {
  // datetime-local inputs give local wall time; the API takes instants.
  return local ? new Date(local).toISOString() : null;
}

function query(params: Record<string, string | undefined | null>): string {
  const kept = Object.entries(params).filter((e): e is [string, string] => !!e[1]);
  return kept.length ? `?${new URLSearchParams(kept).toString()}` : "";
}

export function callsPath(params: URLSearchParams): string {
  return `/api/calls${query({
    user_id: params.get("user_id"),
    since: instant(params.get("since")),
    until: instant(params.get("until")),
    status: params.get("status"),
    cursor: params.get("cursor"),
  })}`;
}

export function callPath(id: string): string {
  return `/api/calls/${encodeURIComponent(id)}`;
}

export function searchPath(params: URLSearchParams): string | null {
  const q = params.get("q");
  return q ? `/api/search${query({ q, offset: params.get("offset") })}` : null;
}

export function dataPathFor(pathname: string, search: string): string | null {
  const params = new URLSearchParams(search);
  if (pathname === "/calls") return callsPath(params);
  if (pathname.startsWith("/calls/")) return callPath(decodeURIComponent(pathname.slice("/calls/".length)));
  if (pathname === "/search") return searchPath(params);
  return null;
}

// Marks the moment a page's data is on screen (after the frame that shows it), for `make bench` and for anyone
// looking at the page's performance timeline.
export function markShown(name: string): void {
  requestAnimationFrame(() => setTimeout(() => performance.mark(`parley:${name}-shown`), 0));
}
