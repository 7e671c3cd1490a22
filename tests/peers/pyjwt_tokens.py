"""Mints and verifies JWTs with PyJWT, as another issuer's (or another
resource server's) library would, for the Mercure 1.0 token checks of the
integration tests (tests/v1_peer_tokens.rs).

Reads one JSON document on standard input, {"jobs": [JOB, ...]}, and prints
one JSON document, {"results": [RESULT, ...]}, in the same order:

    {"op": "verify", "token": T, "alg": A, "key": KEY,
     "audience": AUD, "issuer": ISS, "require": [CLAIM, ...]}
      -> {"ok": true, "header": {...}, "claims": {...}}
       | {"ok": false, "error": "InvalidAudienceError", "message": "..."}

    {"op": "mint", "alg": A, "key": KEY, "headers": {...}, "claims": {...}}
      -> {"ok": true, "token": T}

KEY is {"secret": "..."} (HMAC) or {"pem_file": PATH} (RSA, PEM).

PyJWT does everything a JWT library does here (segments, base64url, JOSE
header, claim validation: exp, iat, aud, iss, required claims); only the
RSA arithmetic of RS256 is supplied by this file when the `cryptography`
package (PyJWT's optional backend) is absent: PKCS#1 v1.5 with SHA-256
(RFC 8017 section 8.2), registered through PyJWT's own algorithm API.
"""
import hashlib
import json
import sys

import jwt
from jwt.algorithms import Algorithm, has_crypto

# DER of the DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
# OID 1.2.840.113549.1.1.1 (rsaEncryption), DER-encoded with its tag.
RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")


def der_items(data):
    """The (tag, content) items of a DER sequence's content."""
    items, i = [], 0
    while i < len(data):
        tag = data[i]
        length = data[i + 1]
        i += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[i : i + count], "big")
            i += count
        items.append((tag, data[i : i + length]))
        i += length
    return items


def pem_body(pem):
    import base64

    lines = [l for l in pem.strip().splitlines() if not l.startswith("-----")]
    return base64.b64decode("".join(lines)), pem.strip().splitlines()[0]


class PurePythonRS256(Algorithm):
    """RS256 for PyJWT without the cryptography package."""

    def prepare_key(self, key):
        if isinstance(key, bytes):
            key = key.decode()
        der, first = pem_body(key)
        [(tag, outer)] = der_items(der)
        assert tag == 0x30, "a DER SEQUENCE"
        items = der_items(outer)
        if "PUBLIC KEY" in first:
            # SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }
            (_, algorithm), (bit_tag, bits) = items
            assert algorithm.startswith(RSA_ENCRYPTION_OID), "an RSA key"
            assert bit_tag == 0x03 and bits[0] == 0
            [(_, rsa)] = der_items(bits[1:])
            n, e = (int.from_bytes(v, "big") for _, v in der_items(rsa))
            return {"n": n, "e": e}
        # PKCS #8 PrivateKeyInfo: SEQUENCE { version, AlgorithmIdentifier, OCTET STRING }
        (_, _version), (_, algorithm), (octet_tag, private) = items[:3]
        assert algorithm.startswith(RSA_ENCRYPTION_OID), "an RSA key"
        assert octet_tag == 0x04
        [(_, rsa)] = der_items(private)
        fields = [int.from_bytes(v, "big") for _, v in der_items(rsa)]
        return {"n": fields[1], "e": fields[2], "d": fields[3]}

    @staticmethod
    def encoded_message(msg, size):
        digest = SHA256_DIGEST_INFO + hashlib.sha256(msg).digest()
        return b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest

    def sign(self, msg, key):
        size = (key["n"].bit_length() + 7) // 8
        m = int.from_bytes(self.encoded_message(msg, size), "big")
        return pow(m, key["d"], key["n"]).to_bytes(size, "big")

    def verify(self, msg, key, sig):
        size = (key["n"].bit_length() + 7) // 8
        if len(sig) != size:
            return False
        s = int.from_bytes(sig, "big")
        if s >= key["n"]:
            return False
        return pow(s, key["e"], key["n"]).to_bytes(size, "big") == self.encoded_message(msg, size)

    @staticmethod
    def to_jwk(key_obj, as_dict=False):
        raise NotImplementedError

    @staticmethod
    def from_jwk(jwk):
        raise NotImplementedError


def key_of(job):
    key = job["key"]
    if "secret" in key:
        return key["secret"]
    with open(key["pem_file"], encoding="ascii") as f:
        return f.read()


def run(job):
    try:
        if job["op"] == "mint":
            token = jwt.encode(job["claims"], key_of(job), algorithm=job["alg"], headers=job["headers"])
            return {"ok": True, "token": token}
        decoded = jwt.decode_complete(
            job["token"],
            key_of(job),
            algorithms=[job["alg"]],
            audience=job["audience"],
            issuer=job["issuer"],
            options={"require": job.get("require", [])},
        )
        return {"ok": True, "header": decoded["header"], "claims": decoded["payload"]}
    except jwt.PyJWTError as e:
        return {"ok": False, "error": type(e).__name__, "message": str(e)}


def main():
    if not has_crypto:
        jwt.register_algorithm("RS256", PurePythonRS256())
    jobs = json.load(sys.stdin)["jobs"]
    json.dump({"results": [run(job) for job in jobs], "rsa": "cryptography" if has_crypto else "pure-python"}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
