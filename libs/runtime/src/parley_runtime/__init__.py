"""Parley's one shared runtime: what every service does the same way, written and tested once.

* `messaging`: NATS JetStream (connect, provision, consume, outbox, request/reply, dead letters);
* `web`: the HTTP app every API builds on;
* `db`: Postgres engines, migrations and error classification;
* `observability`: traces, metrics and logs;
* `lifecycle`, `periodic`, `settings`, `heap`: a service's start-up and shutdown, timers, settings, GC tuning.
"""
