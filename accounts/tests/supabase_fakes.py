"""Supabase stand-ins made inside the tests: signing keys, tokens, and a JWKS served over loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HS_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def claims(sub: Any = "", **overrides: Any) -> dict[str, Any]:
    """A Supabase access token's claims for a signed-in person (a new one unless ``sub`` is given).

    An override of None removes that claim.
    """
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": "https://example-project.supabase.co/auth/v1",
        "sub": str(uuid.uuid4()) if sub == "" or sub is None else str(sub) if isinstance(sub, uuid.UUID) else sub,
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": "person@example.com",
        "phone": "",
        "role": "authenticated",
        "aal": "aal1",
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    if sub is None:
        overrides["sub"] = None
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def hs256_token(payload: dict[str, Any], secret: str = HS_SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], payload: dict[str, Any], *, mac_key: bytes | None = None) -> str:
    """A token built by hand: ``alg: none`` (no signature) or an HMAC with any bytes, e.g. a public key PEM."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    if mac_key is None:
        return signing_input + "."
    signature = hmac.new(mac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class SigningKey:
    """An asymmetric key pair with its kid, as a Supabase project would publish it."""

    def __init__(self, algorithm: str, kid: str | None = None):
        self.algorithm = algorithm
        self.kid = kid or f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}"
        if algorithm == "RS256":
            self.private_key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            self.private_key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(algorithm)

    def token(self, payload: dict[str, Any], *, kid: str | None = None, **headers: Any) -> str:
        return jwt.encode(
            payload, self.private_key, algorithm=self.algorithm, headers={"kid": kid or self.kid, **headers}
        )

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, Any]:
        algo = jwt.algorithms.RSAAlgorithm if self.algorithm == "RS256" else jwt.algorithms.ECAlgorithm
        jwk = algo.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig", "key_ops": ["verify"]}


class JWKSServer:
    """Serves ``keys`` as a JWKS on 127.0.0.1; counts fetches; can fail or stall on demand."""

    def __init__(self, keys: list[SigningKey] | None = None):
        self.document: Any = {"keys": [k.jwk() for k in keys or []]}
        self.fetches = 0
        self.status = 200
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                if server.delay:
                    time.sleep(server.delay)
                body = server.document if isinstance(server.document, bytes) else json.dumps(server.document)
                data = body if isinstance(body, bytes) else body.encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/auth/v1/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, *keys: SigningKey) -> None:
        self.document = {"keys": [k.jwk() for k in keys]}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
