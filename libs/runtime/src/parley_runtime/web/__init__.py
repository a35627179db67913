"""HTTP: the Litestar app every API builds on (keys, problems, health, readiness), cursors, OpenAPI helpers
and the uvicorn entry point."""
