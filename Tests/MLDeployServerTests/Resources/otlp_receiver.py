#!/usr/bin/env python3
"""A minimal OTLP/HTTP trace receiver for tests: POST /v1/traces (protobuf or JSON), each span
appended as one JSON line to the file given as the first argument. Prints `listening PORT ready`."""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

OUT = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = ExportTraceServiceRequest()
        if "json" in (self.headers.get("Content-Type") or ""):
            from google.protobuf.json_format import Parse
            Parse(body.decode(), request)
        else:
            request.ParseFromString(body)
        with open(OUT, "a") as out:
            for resource_spans in request.resource_spans:
                service = next((a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"), "")
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        attributes = {a.key: MessageToDict(a.value) for a in span.attributes}
                        out.write(json.dumps({
                            "service": service, "name": span.name, "kind": span.kind,
                            "traceId": span.trace_id.hex(), "spanId": span.span_id.hex(), "parentSpanId": span.parent_span_id.hex(),
                            "attributes": attributes,
                        }) + "\n")
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("listening", server.server_address[1], "ready", flush=True)
server.serve_forever()
