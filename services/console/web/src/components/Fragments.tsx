import type { Fragment } from "../types";

// Text with the matched words marked; every fragment is rendered as text, never as markup.
export function Fragments({ fragments }: { fragments: Fragment[] }) {
  return (
    <>
      {fragments.map((f, i) => (f.match ? <mark key={i}>{f.text}</mark> : <span key={i}>{f.text}</span>))}
    </>
  );
}
