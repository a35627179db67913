"""An example receiver of Parley's webhooks: it verifies each message's signature, handles each `webhook-id` once,
and answers fast.

What any receiver of yours must do (docs/webhooks.md):
- verify `webhook-signature` over the raw body with your endpoint's secret (`whsec_...`), with the Standard
  Webhooks library of your language, which also refuses a `webhook-timestamp` more than five minutes off;
- answer 2xx quickly and do the work after: Parley waits 15 s, then retries;
- handle each `webhook-id` once: a retry or a replay carries the same id;
- answer 410 only to be removed for good: Parley disables the endpoint.

Run it with `WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py 8099`; it needs `standardwebhooks`
(`pip install standardwebhooks`). It prints one line per message (its type and ids, never what was said).
tests/webhooks/test_example_receiver.py runs it against the webhooks service.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

SEEN: set[str] = set()  # a real receiver keeps these where its work is stored, for as long as retries last


class Handler(BaseHTTPRequestHandler):
    webhook = Webhook(os.environ["WEBHOOK_SECRET"])

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            message = self.webhook.verify(body, dict(self.headers.items()))
        except WebhookVerificationError as exc:
            self._answer(400, f"refused: {exc}")
            return
        webhook_id = self.headers["webhook-id"]
        if webhook_id in SEEN:
            self._answer(204, f"again {webhook_id}")  # already handled: acknowledge, do nothing
            return
        SEEN.add(webhook_id)
        data = message.get("data", {})
        self._answer(204, f"{message['type']} {webhook_id} conversation={data.get('conversation_id')}")

    def _answer(self, status: int, line: str) -> None:
        print(line, flush=True)
        self.send_response(status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per message, printed above


def main(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8099)
