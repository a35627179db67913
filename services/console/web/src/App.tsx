import { lazy, Suspense, useEffect, useState } from "react";
import { Link, NavLink, useLocation, useNavigate } from "./router";
import { api, SignedOut } from "./api";
import { CallPage } from "./pages/Call";
import { CallsPage } from "./pages/Calls";
import { OpsPage } from "./pages/Ops";
import { RoomsPage } from "./pages/Rooms";
import { SearchPage } from "./pages/Search";
import { MeContext } from "./session";
import { SignInPage } from "./pages/SignIn";
import type { Me } from "./types";

// LiveKit's client is most of the app's code: only /talk loads it.
const TalkPage = lazy(() => import("./pages/Talk").then((m) => ({ default: m.TalkPage })));

function Header({ me, setMe }: { me: Me | null; setMe: (me: Me | null) => void }) {
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
        <NavLink to="/talk">Talk</NavLink>
        <NavLink to="/rooms">Rooms</NavLink>
        <NavLink to="/ops">Ops</NavLink>
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
  if (pathname === "/talk") {
    return (
      <Suspense fallback={<p aria-busy="true">Loading…</p>}>
        <TalkPage />
      </Suspense>
    );
  }
  if (pathname === "/rooms") return <RoomsPage />;
  if (pathname === "/ops") return <OpsPage />;
  return (
    <p>
      Nothing here. <Link to="/calls">See the calls</Link>.
    </p>
  );
}

export function App() {
  const { pathname } = useLocation();
  const [me, setMe] = useState<Me | null>(null);
  if (pathname === "/signin") return <SignInPage />;
  return (
    <MeContext.Provider value={me}>
      <Header me={me} setMe={setMe} />
      <main>
        <Page pathname={pathname} />
      </main>
    </MeContext.Provider>
  );
}
