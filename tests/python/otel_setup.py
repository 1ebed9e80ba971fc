"""OpenTelemetry for the Python MCP peers: OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT,
and openinference-instrumentation-mcp to carry the trace context in params._meta."""

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from openinference.instrumentation.mcp import MCPInstrumentor


def setup(service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    MCPInstrumentor().instrument()
    return provider
