import { useEffect, useState } from "react";
import { useLocation, useNavigate } from "./router";
import { api, SignedOut } from "./api";

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
}

// GET `path` whenever it changes; a signed-out answer takes the person to the sign-in page and back after.
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: true });
  const navigate = useNavigate();
  const location = useLocation();
  useEffect(() => {
    if (path === null) return;
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>(path)
      .then((data) => current && setState({ data, loading: false }))
      .catch((e: unknown) => {
        if (!current) return;
        if (e instanceof SignedOut) {
          navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
        } else {
          setState({ error: e instanceof Error ? e.message : String(e), loading: false });
        }
      });
    return () => {
      current = false;
    };
  }, [path]); // eslint-disable-line react-hooks/exhaustive-deps
  return state;
}
