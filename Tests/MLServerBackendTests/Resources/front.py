#!/usr/bin/env python3
"""A logging, fault-injecting reverse proxy in front of an ML Server-compatible server, for the
MLServer backend's tests.

    front.py UPSTREAM_PORT      prints "PORT <n>" once listening on 127.0.0.1

Every request is forwarded to 127.0.0.1:UPSTREAM_PORT as it came (method, path, headers, body) and
logged; the proxy's own routes live under /__front:

    GET    /__front/log                  the requests so far: [{method, path, headers, body (base64)}]
    DELETE /__front/log                  forgets them
    POST   /__front/fail?match=P&status=S&times=N
                                         the next N requests whose path contains P get status S
                                         ({"message": "injected"}) instead of being forwarded
"""
import base64
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = int(sys.argv[1])
lock = threading.Lock()
log = []
faults = []  # [substring, status, remaining]
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, payload, content_type="application/json"):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path.startswith("/__front/"):
            query = dict(urllib.parse.parse_qsl(parsed.query))
            if parsed.path == "/__front/log":
                with lock:
                    if self.command == "DELETE":
                        log.clear()
                        return self.answer(200, [])
                    return self.answer(200, list(log))
            if parsed.path == "/__front/fail":
                with lock:
                    faults.append([query["match"], int(query.get("status", "503")), int(query.get("times", "1"))])
                return self.answer(200, {})
            return self.answer(404, {"message": "no front route " + parsed.path})
        with lock:
            log.append({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": base64.b64encode(body).decode(),
            })
            for fault in faults:
                if fault[0] in parsed.path and fault[2] > 0:
                    fault[2] -= 1
                    return self.answer(fault[1], {"message": "injected", "link": None, "exceptionType": "injected"})
        connection = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP and k.lower() != "host"}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    server = Server(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()
