import type { ReactNode } from "react";

/** A listing: a caption for screen readers, one header cell per column, the rows, and a sentence spanning the
 * row when the listing has loaded and holds nothing (`empty`). `aria-busy` while it loads. */
export function DataTable({
  caption,
  columns,
  busy,
  empty,
  children,
}: {
  caption: string;
  columns: string[];
  busy: boolean;
  empty?: string | false;
  children: ReactNode;
}) {
  return (
    <table aria-busy={busy}>
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column) => (
            <th scope="col" key={column}>
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {children}
        {empty && (
          <tr>
            <td colSpan={columns.length}>{empty}</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
