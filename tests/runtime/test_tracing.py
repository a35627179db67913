"""Trace context travels in message headers: injected at emit time, extracted by consumers."""

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from parley_runtime.messaging.handling import RetryPolicy
from parley_runtime.observability import tracing


def test_traceparent_round_trips_through_headers() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("turn") as span:
        headers = tracing.inject({"Nats-Msg-Id": "x"})
    assert headers["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
    remote = trace.get_current_span(tracing.extract(headers)).get_span_context()
    assert remote.trace_id == span.get_span_context().trace_id
    assert remote.span_id == span.get_span_context().span_id
    assert remote.is_remote


def test_no_active_span_injects_nothing() -> None:
    assert tracing.inject({}) == {}


def test_batch_span_links_every_message_context() -> None:
    tracer = TracerProvider().get_tracer("test")
    contexts = []
    for name in ("a", "b"):
        with tracer.start_as_current_span(name):
            contexts.append(tracing.extract(tracing.inject({})))
    assert len(tracing.links_from(contexts)) == 2


def test_retry_delay_grows_with_each_delivery_and_is_capped() -> None:
    policy = RetryPolicy(base=1, cap=60)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 7, 20)] == [1, 2, 4, 8, 60, 60]


def test_delivery_info_reads_count_and_sequence_from_both_ack_subject_forms() -> None:
    from parley_runtime.messaging.pull import delivery_info

    assert delivery_info("$JS.ACK.VOICE.history.3.1042.977.1732528800000000000.12") == (3, 1042)
    assert delivery_info("$JS.ACK.hub.ACCHASH.VOICE.history.2.7.7.1732528800000000000.0.token") == (2, 7)
