"""How the services serve HTTP: the fast parser and loop are installed and chosen, not just hoped for."""

from __future__ import annotations

from litestar import Litestar
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from parley_runtime.web.serve import uvicorn_config


def test_services_parse_http_with_httptools_not_h11() -> None:
    config = uvicorn_config(Litestar(), host="127.0.0.1", port=0)
    config.load()
    assert config.http_protocol_class is HttpToolsProtocol


def test_services_run_on_uvloop() -> None:
    import uvloop

    config = uvicorn_config(Litestar(), host="127.0.0.1", port=0)
    assert config.get_loop_factory() is uvloop.new_event_loop
