#!/usr/bin/env python3
"""A real HTTP/1.1 server for MLDeployHTTP's tests, with fault injection.

Prints "PORT <n>" once listening on 127.0.0.1, then serves until killed (the tests run it under a
guard that kills it when the test ends or dies). Options: --tls CERT KEY [--client-ca CA] serves HTTPS, requiring a client
certificate signed by CA when given; --max-tls 1.2 caps the TLS version.

Routes (all methods unless noted):
  /echo                      JSON of the method, path, query, headers, body length and SHA-256
  /status/<code>             that status; ?retry_after=V adds Retry-After: V
  /sequence/<key>?codes=a,b  the n-th hit of <key> gets the n-th code (the last one repeats);
                             ?retry_after=V on non-2xx
  /hits/<key>                {"hits": n} for a sequence or reset key
  /reset/<key>?times=N       the first N hits close the connection before any response byte, then 200
  /reset-after-headers       sends headers promising 1000 bytes, 10 bytes, then resets
  /slow?chunks=N&delay=S     N chunks of 1 KiB with S seconds between them
  /sleep?seconds=S           waits S seconds, then answers
  /peer?seconds=S            waits S seconds, then answers {"port": the client's port}: one per connection
  /bytes?n=N                 N bytes of a fixed pattern (i % 251), with Content-Length
  /upload                    reads the body as it comes, answers its length and SHA-256
  /gzip                      a gzip-encoded JSON body
  /redirect?to=PATH&status=C a redirect
  POST /login                {"username","password"} -> tokens (password must be "secret")
  POST /login/refreshToken   {"refreshToken"} -> new tokens
  POST /<tenant>/oauth2/token an AAD v1 token endpoint (form body): client_credentials (client_secret
                             "secret"), password (password "secret") or refresh_token grants, for
                             client_id "app" and resource "api", as application/x-www-form-urlencoded
  /protected?delay=S         200 with a valid bearer token, 401 otherwise
  /admin/config?expires_in=S token lifetime for new tokens
  /admin/expire-tokens       every issued access token stops being accepted
  /admin/revoke-refresh      every issued refresh token stops being accepted
  /admin/stats               counters
"""
import argparse
import gzip
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
hits = {}
tokens = {"access": {}, "refresh": set(), "counter": 0, "expires_in": 3600}
stats = {"logins": 0, "refreshes": 0, "protected_ok": 0, "protected_401": 0, "aad_grants": 0, "aad_refreshes": 0}


def issue_tokens():
    with lock:
        tokens["counter"] += 1
        n = tokens["counter"]
        access, refresh = "A%d" % n, "R%d" % n
        lifetime = tokens["expires_in"]
        tokens["access"][access] = time.time() + lifetime
        tokens["refresh"].add(refresh)
    return {
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": lifetime,
        "expires_on": int(time.time() + lifetime),
        "refresh_token": refresh,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    # -- helpers ---------------------------------------------------------------------------------
    def read_body_chunks(self):
        """Yields the request body in pieces, Content-Length or chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    piece = self.rfile.read(min(remaining, 65536))
                    if not piece:
                        return
                    remaining -= len(piece)
                    yield piece
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                piece = self.rfile.read(min(remaining, 65536))
                if not piece:
                    return
                remaining -= len(piece)
                yield piece

    def read_body(self):
        return b"".join(self.read_body_chunks())

    def send_json(self, status, payload, extra=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def reset(self):
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def bearer(self):
        value = self.headers.get("Authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    # -- dispatch --------------------------------------------------------------------------------
    def do_GET(self):
        self.route()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def route(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        parts = [p for p in parsed.path.split("/") if p]
        head = parts[0] if parts else ""

        if head == "echo":
            body = self.read_body()
            text = body.decode("utf-8", "replace") if len(body) < 65536 else None
            self.send_json(200, {
                "method": self.command, "path": parsed.path, "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_length": len(body), "body_sha256": hashlib.sha256(body).hexdigest(), "body": text,
            })
        elif head == "status":
            self.read_body()
            extra = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
            self.send_json(int(parts[1]), {"status": int(parts[1])}, extra)
        elif head == "sequence":
            self.read_body()
            key = parts[1]
            with lock:
                hits[key] = hits.get(key, 0) + 1
                n = hits[key]
            codes = [int(c) for c in query.get("codes", "200").split(",")]
            code = codes[min(n, len(codes)) - 1]
            extra = {"Retry-After": query["retry_after"]} if "retry_after" in query and code >= 300 else {}
            self.send_json(code, {"hit": n, "status": code}, extra)
        elif head == "hits":
            with lock:
                n = hits.get(parts[1], 0)
            self.send_json(200, {"hits": n})
        elif head == "reset":
            key = parts[1]
            with lock:
                hits[key] = hits.get(key, 0) + 1
                n = hits[key]
            if n <= int(query.get("times", "1")):
                self.read_body()
                self.reset()
            else:
                self.read_body()
                self.send_json(200, {"hit": n})
        elif head == "peer":
            self.read_body()
            time.sleep(float(query.get("seconds", "0")))
            self.send_json(200, {"port": self.client_address[1]})
        elif head == "reset-after-headers":
            self.read_body()
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.reset()
        elif head == "slow":
            self.read_body()
            chunks, delay = int(query.get("chunks", "5")), float(query.get("delay", "0.1"))
            self.send_response(200)
            self.send_header("Content-Length", str(chunks * 1024))
            self.end_headers()
            for _ in range(chunks):
                self.wfile.write(b"s" * 1024)
                self.wfile.flush()
                time.sleep(delay)
        elif head == "sleep":
            self.read_body()
            time.sleep(float(query.get("seconds", "1")))
            self.send_json(200, {"slept": float(query.get("seconds", "1"))})
        elif head == "bytes":
            self.read_body()
            n = int(query.get("n", "1024"))
            pattern = bytes(i % 251 for i in range(251 * 261))  # 65511 bytes, a whole number of cycles
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            sent = 0
            while sent < n:
                piece = pattern[: min(len(pattern), n - sent)]
                self.wfile.write(piece)
                sent += len(piece)
        elif head == "upload":
            digest, count = hashlib.sha256(), 0
            for piece in self.read_body_chunks():
                digest.update(piece)
                count += len(piece)
            self.send_json(200, {"length": count, "sha256": digest.hexdigest(),
                                 "chunked": self.headers.get("Transfer-Encoding", "").lower() == "chunked"})
        elif head == "gzip":
            self.read_body()
            body = gzip.compress(json.dumps({"compressed": True, "accept_encoding": self.headers.get("Accept-Encoding")}).encode())
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif head == "redirect":
            self.read_body()
            self.send_response(int(query.get("status", "302")))
            self.send_header("Location", query.get("to", "/echo"))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif len(parts) == 3 and parts[1:] == ["oauth2", "token"]:
            form = dict(urllib.parse.parse_qsl(self.read_body().decode()))
            grant = form.get("grant_type")
            ok = form.get("client_id") == "app" and form.get("resource") == "api" and self.headers.get("Content-Type") == "application/x-www-form-urlencoded"
            if grant == "client_credentials":
                ok = ok and form.get("client_secret") == "secret"
            elif grant == "password":
                ok = ok and form.get("password") == "secret" and bool(form.get("username"))
            elif grant == "refresh_token":
                with lock:
                    ok = ok and form.get("refresh_token") in tokens["refresh"]
                    tokens["refresh"].discard(form.get("refresh_token"))
            else:
                ok = False
            with lock:
                stats["aad_refreshes" if grant == "refresh_token" else "aad_grants"] += 1
            if ok:
                self.send_json(200, issue_tokens())
            else:
                self.send_json(400, {"error": "invalid_grant", "error_description": "AADSTS70002: bad credentials"})
        elif head == "login" and len(parts) == 1:
            request = json.loads(self.read_body() or b"{}")
            with lock:
                stats["logins"] += 1
            if request.get("password") != "secret":
                self.send_json(401, {"message": "Invalid credentials."})
            else:
                self.send_json(200, issue_tokens())
        elif head == "login" and parts[1:] == ["refreshToken"]:
            request = json.loads(self.read_body() or b"{}")
            with lock:
                stats["refreshes"] += 1
                valid = request.get("refreshToken") in tokens["refresh"]
                tokens["refresh"].discard(request.get("refreshToken"))
            if not valid:
                self.send_json(401, {"message": "Invalid refresh token."})
            else:
                self.send_json(200, issue_tokens())
        elif head == "protected":
            self.read_body()
            time.sleep(float(query.get("delay", "0")))
            token = self.bearer()
            with lock:
                expiry = tokens["access"].get(token)
                valid = expiry is not None and expiry > time.time()
                stats["protected_ok" if valid else "protected_401"] += 1
            if valid:
                self.send_json(200, {"token": token})
            else:
                self.send_json(401, {"message": "Unauthorized"})
        elif head == "admin":
            self.read_body()
            action = parts[1] if len(parts) > 1 else ""
            with lock:
                if action == "config":
                    tokens["expires_in"] = int(query.get("expires_in", tokens["expires_in"]))
                elif action == "expire-tokens":
                    tokens["access"] = {}
                elif action == "revoke-refresh":
                    tokens["refresh"] = set()
                payload = dict(stats)
            self.send_json(200, payload)
        else:
            self.read_body()
            self.send_json(404, {"message": "no route " + parsed.path})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--client-ca")
    parser.add_argument("--max-tls")
    args = parser.parse_args()

    server = Server(("127.0.0.1", 0), Handler)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])
        if args.client_ca:
            context.load_verify_locations(args.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        if args.max_tls == "1.2":
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        server.socket = context.wrap_socket(server.socket, server_side=True)

    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()  # the test's process guard kills us when the test is done


if __name__ == "__main__":
    main()
