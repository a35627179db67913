import type { Analysis, CostItem } from "../types";

// What insights made of a session: summary, extracted data, evaluation, and the cost item by item. Every value
// is rendered as text (React escapes it): a model's answer is data, never markup.

function money(amount: number, currency: string): string {
  // Sub-cent amounts are the norm for a call: show enough digits to see them.
  return new Intl.NumberFormat(undefined, { style: "currency", currency, maximumFractionDigits: 6 }).format(amount);
}

function quantity(item: CostItem): string {
  const unit = item.unit.replaceAll("_", " ");
  return `${Number(item.quantity.toFixed(3)).toLocaleString()} ${unit}${item.quantity === 1 ? "" : "s"}`;
}

function DataList({ data }: { data: Record<string, unknown> }) {
  return (
    <dl className="analysis-data" data-testid="analysis-data">
      {Object.entries(data).map(([k, v]) => (
        <div key={k}>
          <dt>{k.replaceAll("_", " ")}</dt>
          <dd>{v === null || v === undefined ? "not said" : typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}

function CostTable({ cost }: { cost: NonNullable<Analysis["cost"]> }) {
  const items = cost.items ?? [];
  return (
    <table className="cost" data-testid="cost">
      <caption>
        Cost {money(cost.total, cost.currency)} (prices of {cost.price_table})
      </caption>
      <thead>
        <tr>
          <th scope="col">Component</th>
          <th scope="col">Model</th>
          <th scope="col">Quantity</th>
          <th scope="col">Unit price</th>
          <th scope="col">Amount</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr key={`${i.component}-${i.provider}-${i.model}-${i.unit}`} data-testid="cost-item">
            <td>{i.component}</td>
            <td>
              {i.provider}/{i.model}
            </td>
            <td>{quantity(i)}</td>
            <td>{i.unpriced ? "no price" : money(i.unit_price, cost.currency)}</td>
            <td>{money(i.amount, cost.currency)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AnalysisView({ analysis }: { analysis?: Analysis | null }) {
  if (!analysis) return <p className="analysis pending">Not analysed yet.</p>;
  const e = analysis.evaluation;
  return (
    <section className="analysis" data-testid="analysis" aria-label="Analysis">
      <h3>
        Analysis <span className="meta">by {analysis.analyzer}</span>
      </h3>
      {analysis.status === "failed" ? (
        <p className="error" data-testid="analysis-failure">
          The analysis failed: {analysis.failure}
        </p>
      ) : (
        <>
          <p data-testid="analysis-summary">{analysis.summary}</p>
          {e && (
            <p data-testid="analysis-evaluation" className={e.passed ? "passed" : "not-passed"}>
              {e.passed ? "Passed" : "Not passed"}, score {e.score.toFixed(2)}
              {e.reason ? `: ${e.reason}` : ""}
            </p>
          )}
          {analysis.data && <DataList data={analysis.data} />}
        </>
      )}
      {analysis.cost && <CostTable cost={analysis.cost} />}
    </section>
  );
}
