"""The Python gRPC worker: `aitrace.demo.Weather/Forecast`, traced by
opentelemetry-instrumentation-grpc and exported over OTLP/HTTP.

Usage: worker.py [--port N]   (0 = any free port; prints "ready <port>" when serving)
Exports to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (or OTEL_EXPORTER_OTLP_ENDPOINT) as
OTEL_SERVICE_NAME; W3C trace context comes in the call's metadata. The stubs are
generated from weather.proto by grpcio-tools at start, into a temporary directory.
"""

import argparse
import os
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc
from grpc_tools import protoc
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.grpc import GrpcInstrumentorServer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

HERE = os.path.dirname(os.path.abspath(__file__))

REPORTS = {
    "Paris": ("sunny", 21),
    "Tokyo": ("rainy", 17),
}


def load_stubs():
    out = tempfile.mkdtemp(prefix="aitrace-pyworker-")
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{HERE}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.join(HERE, "weather.proto"),
        ]
    )
    if code != 0:
        sys.exit(f"protoc failed ({code})")
    sys.path.insert(0, out)
    import weather_pb2
    import weather_pb2_grpc

    return weather_pb2, weather_pb2_grpc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", "aitrace-pyworker")}
        )
    )
    # One export per span: the tests read them as soon as the call returns.
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    GrpcInstrumentorServer().instrument()
    tracer = trace.get_tracer("aitrace.pyworker")

    pb2, pb2_grpc = load_stubs()

    class Weather(pb2_grpc.WeatherServicer):
        def Forecast(self, request, context):
            with tracer.start_as_current_span("lookup forecast") as span:
                span.set_attribute("weather.city", request.city)
                if request.city not in REPORTS:
                    context.abort(grpc.StatusCode.NOT_FOUND, f"no forecast for {request.city}")
                conditions, celsius = REPORTS[request.city]
                return pb2.ForecastReply(
                    city=request.city, conditions=conditions, celsius=celsius
                )

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb2_grpc.add_WeatherServicer_to_server(Weather(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print(f"ready {port}", flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=1).wait()
    provider.shutdown()


if __name__ == "__main__":
    main()
