"""A traced Python MCP server on stdio with one tool, get_weather, whose own span
joins the caller's trace (the context comes in params._meta)."""

import atexit

from otel_setup import setup

provider = setup("python-mcp-server")
atexit.register(provider.shutdown)

from mcp.server.mcpserver import MCPServer  # noqa: E402  (after instrumenting)
from opentelemetry import trace  # noqa: E402

server = MCPServer("python-weather")
tracer = trace.get_tracer("interop")


@server.tool()
def get_weather(city: str) -> str:
    """Weather for a city."""
    with tracer.start_as_current_span("python get_weather"):
        return f"sunny in {city}"


server.run()
