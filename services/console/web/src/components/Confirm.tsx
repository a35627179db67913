import { useState } from "react";

// An action that changes data, asked twice: the button, then "Confirm" (data-testid `confirm`) or "Cancel".
export function ConfirmButton({
  label,
  question,
  onConfirm,
  testId,
  disabled,
}: {
  label: string;
  question: string;
  onConfirm: () => Promise<void> | void;
  testId?: string;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" data-testid={testId} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  const confirm = async () => {
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };
  return (
    <span role="group" aria-label={question} className="confirm">
      <span>{question}</span>{" "}
      <button type="button" data-testid="confirm" disabled={busy} onClick={confirm}>
        Confirm
      </button>{" "}
      <button type="button" className="secondary" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
