// The console's router: the address bar is the page's state (path, filters in the query, a turn in the hash).
// Four pages need no more than this, and a general router library was a third of the app's code to load.
import { type AnchorHTMLAttributes, createContext, type MouseEvent, type ReactNode, useContext, useEffect, useState } from "react";

interface Place {
  pathname: string;
  search: string;
  hash: string;
}

interface Router {
  place: Place;
  navigate: (to: string, options?: { replace?: boolean }) => void;
}

const here = (): Place => ({ pathname: location.pathname, search: location.search, hash: location.hash });
const RouterContext = createContext<Router | null>(null);

export function BrowserRouter({ children }: { children: ReactNode }) {
  const [place, setPlace] = useState(here);
  useEffect(() => {
    const onPop = () => setPlace(here());
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const navigate = (to: string, options: { replace?: boolean } = {}) => {
    if (options.replace) history.replaceState(null, "", to);
    else history.pushState(null, "", to);
    setPlace(here());
    if (!to.includes("#")) scrollTo(0, 0);
  };
  return <RouterContext.Provider value={{ place, navigate }}>{children}</RouterContext.Provider>;
}

function useRouter(): Router {
  const router = useContext(RouterContext);
  if (!router) throw new Error("outside the router");
  return router;
}

export function useLocation(): Place {
  return useRouter().place;
}

export function useNavigate(): Router["navigate"] {
  return useRouter().navigate;
}

export function useSearchParams(): [URLSearchParams, (next: URLSearchParams | Record<string, string>) => void] {
  const { place, navigate } = useRouter();
  const set = (next: URLSearchParams | Record<string, string>) => {
    const query = new URLSearchParams(next).toString();
    navigate(`${place.pathname}${query ? `?${query}` : ""}`);
  };
  return [new URLSearchParams(place.search), set];
}

type LinkProps = Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href"> & { to: string };

export function Link({ to, onClick, ...rest }: LinkProps) {
  const navigate = useNavigate();
  const follow = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    // A new tab, a download or a modified click is the browser's business.
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={follow} {...rest} />;
}

export function NavLink({ to, ...rest }: LinkProps) {
  const { pathname } = useLocation();
  const active = pathname === to || pathname.startsWith(`${to}/`);
  return <Link to={to} className={active ? "active" : undefined} aria-current={active ? "page" : undefined} {...rest} />;
}
