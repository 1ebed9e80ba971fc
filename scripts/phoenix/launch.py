"""Starts Arize Phoenix with its gRPC OTLP receiver bound to loopback only.

Phoenix binds gRPC to "[::]:port" whatever PHOENIX_HOST says; the end-to-end tests
must not listen beyond this machine, so the bind address is rewritten before the
server starts. Everything else is Phoenix's own `phoenix serve`.
"""
import sys

import grpc.aio._server as grpc_server

_add_insecure_port = grpc_server.Server.add_insecure_port


def _loopback_only(self, address):
    return _add_insecure_port(self, address.replace("[::]:", "127.0.0.1:"))


grpc_server.Server.add_insecure_port = _loopback_only

from phoenix.server.main import main  # noqa: E402

sys.argv = ["phoenix", "serve"]
main()
