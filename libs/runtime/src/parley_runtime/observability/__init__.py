"""Telemetry: traces (W3C context through NATS headers), metrics (OpenTelemetry, Prometheus text) and JSON
logs."""
