import { type FormEvent, useState } from "react";
import { useNavigate, useSearchParams } from "../router";
import { api, ApiError, SignedOut } from "../api";

export function SignInPage() {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = params.get("next");
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api("/api/session", { method: "POST", body: JSON.stringify({ key }) });
      // Only a path of this console: a `next` naming another site would make this page a redirector.
      navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/calls", { replace: true });
    } catch (err) {
      setError(err instanceof SignedOut ? "That key may not sign in." : err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <main className="signin">
      <h1>Parley console</h1>
      <form data-testid="signin" onSubmit={submit}>
        <label htmlFor="key">API key</label>
        <input
          id="key"
          name="key"
          type="password"
          autoComplete="current-password"
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
        />
        <button type="submit">Sign in</button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
