// The console's API, same origin, the session in an HttpOnly cookie the page never sees.

export class SignedOut extends Error {}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// Answers asked for before React started (main.tsx): the first page to want one takes it.
const early = new Map<string, Promise<Response>>();

export function prefetch(path: string): void {
  // As the page's `<link rel="preload" as="fetch">` asks (no extra header), so the browser's early answer is used.
  early.set(path, fetch(path, { credentials: "same-origin" }));
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const waiting = !init.method && early.get(path);
  early.delete(path);
  const response = await (waiting ||
    fetch(path, {
      ...init,
      credentials: "same-origin",
      headers: init.body ? { "Content-Type": "application/json" } : {},
    }));
  if (response.status === 401) throw new SignedOut();
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      // not a problem document: the status says enough
    }
    throw new ApiError(response.status, detail);
  }
  return (response.status === 204 ? undefined : await response.json()) as T;
}

