"""A traced Python MCP client: calls get_weather on the streamable HTTP server at
argv[1] inside a root span, then prints that span's trace id."""

import asyncio
import sys

from otel_setup import setup

provider = setup("python-mcp-client")

from mcp import ClientSession  # noqa: E402  (after instrumenting)
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from opentelemetry import trace  # noqa: E402


async def main(url: str) -> None:
    tracer = trace.get_tracer("interop")
    with tracer.start_as_current_span("python agent") as span:
        async with streamable_http_client(url) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                result = await session.call_tool("get_weather", {"city": "Paris"})
                if getattr(result, "is_error", False) or getattr(result, "isError", False):
                    raise SystemExit(f"the tool failed: {result}")
    print(format(span.get_span_context().trace_id, "032x"), flush=True)


asyncio.run(main(sys.argv[1]))
provider.shutdown()
