"""A small OpenID Connect identity provider for the server's sign-in tests, on loopback.

Serves, for tenant TENANT, what Entra ID serves: the discovery document at
/TENANT/v2.0/.well-known/openid-configuration, the key set at /TENANT/discovery/keys, and AAD's
token endpoint /TENANT/oauth2/token (client-credentials and password grants). Test-only routes
mint tokens with chosen faults and rotate the signing key:

  POST /mint    {"sub", "roles", "aud", "expires_in", "not_before_in", "unpublished_key", "forged"}
                (unpublished_key: signed by a key never published, under its own kid; forged: signed
                by that key under the current key's kid — a wrong signature)
  POST /rotate  a new key signs from now on; the key set publishes only it

Prints "listening on PORT" once ready. Tokens are made with PyJWT (RS256).
"""
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

TENANT = "t1"
AUDIENCE = "api://mldeploy"
# Client-credentials grants: client id -> (secret, roles claim).
CLIENTS = {"ml-ops": ("ops-secret", ["mldeploy.owner"]), "ml-app": ("app-secret", ["mldeploy.reader"])}


def new_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {"kid": uuid.uuid4().hex[:12], "private": key}


state = {"current": new_key(), "requests": {"keys": 0}}
stray = new_key()  # never published: a token it signs has a wrong signature / unknown kid


def jwk(entry):
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(entry["private"].public_key()))
    public.update({"kid": entry["kid"], "use": "sig", "alg": "RS256"})
    return public


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def issuer(self):
        return f"{self.base()}/{TENANT}/v2.0"

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def mint(self, sub, roles, aud=AUDIENCE, expires_in=600, not_before_in=None, key=None, kid=None):
        now = int(time.time())
        claims = {"iss": self.issuer(), "sub": sub, "preferred_username": sub, "aud": aud, "iat": now, "exp": now + expires_in, "roles": roles}
        if not_before_in is not None:
            claims["nbf"] = now + not_before_in
        key = key or state["current"]
        headers = {"kid": kid or key["kid"]}
        return jwt.encode(claims, key["private"], algorithm="RS256", headers=headers)

    def do_GET(self):
        if self.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            self.answer(200, {"issuer": self.issuer(), "jwks_uri": f"{self.base()}/{TENANT}/discovery/keys",
                              "token_endpoint": f"{self.base()}/{TENANT}/oauth2/token", "id_token_signing_alg_values_supported": ["RS256"]})
        elif self.path == f"/{TENANT}/discovery/keys":
            state["requests"]["keys"] += 1
            self.answer(200, {"keys": [jwk(state["current"])]})
        elif self.path == "/stats":
            self.answer(200, state["requests"])
        else:
            self.answer(404, {"error": "not_found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        if self.path == "/mint":
            body = json.loads(raw or "{}")
            token = self.mint(body.get("sub", "alice"), body.get("roles", []), aud=body.get("aud", AUDIENCE),
                              expires_in=body.get("expires_in", 600), not_before_in=body.get("not_before_in"),
                              key=stray if body.get("unpublished_key") or body.get("forged") else None,
                              kid=state["current"]["kid"] if body.get("forged") else None)
            self.answer(200, {"token": token})
        elif self.path == "/rotate":
            state["current"] = new_key()
            self.answer(200, {"kid": state["current"]["kid"]})
        elif self.path == f"/{TENANT}/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            client = CLIENTS.get(form.get("client_id", ""))
            if form.get("grant_type") != "client_credentials" or client is None or client[0] != form.get("client_secret"):
                self.answer(401, {"error": "invalid_client", "error_description": "unknown client or wrong secret"})
                return
            token = self.mint(form["client_id"], client[1], aud=form.get("resource", AUDIENCE))
            self.answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": "600", "resource": form.get("resource", "")})
        else:
            self.answer(404, {"error": "not_found"})


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
