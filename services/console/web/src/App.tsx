import { useEffect, useState } from "react";
import { Link, NavLink, useLocation, useNavigate } from "./router";
import { api, SignedOut } from "./api";
import { CallPage } from "./pages/Call";
import { CallsPage } from "./pages/Calls";
import { SearchPage } from "./pages/Search";
import { SignInPage } from "./pages/SignIn";
import type { Me } from "./types";

function Header() {
  const [me, setMe] = useState<Me | null>(null);
  const navigate = useNavigate();
  const location = useLocation();
  useEffect(() => {
    // Every page but sign-in needs a session, whether or not it has data to load yet.
    api<Me>("/api/session").then(setMe, (e: unknown) => {
      setMe(null);
      if (e instanceof SignedOut) {
        navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
      }
    });
  }, []); // eslint-disable-line react-hooks/exhaustive-deps
  const signOut = async () => {
    await api("/api/session", { method: "DELETE" }).catch(() => undefined);
    navigate("/signin");
  };
  return (
    <header className="top">
      <Link to="/calls" className="brand">
        Parley
      </Link>
      <nav aria-label="Main">
        <NavLink to="/calls">Calls</NavLink>
        <NavLink to="/search">Search</NavLink>
      </nav>
      {me && (
        <div className="who">
          <span>Signed in as {me.name}</span>
          {me.via === "key" && (
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          )}
        </div>
      )}
    </header>
  );
}

function Page({ pathname }: { pathname: string }) {
  if (pathname === "/calls") return <CallsPage />;
  if (pathname.startsWith("/calls/")) return <CallPage id={decodeURIComponent(pathname.slice("/calls/".length))} />;
  if (pathname === "/search") return <SearchPage />;
  return (
    <p>
      Nothing here. <Link to="/calls">See the calls</Link>.
    </p>
  );
}

export function App() {
  const { pathname } = useLocation();
  if (pathname === "/signin") return <SignInPage />;
  return (
    <>
      <Header />
      <main>
        <Page pathname={pathname} />
      </main>
    </>
  );
}
