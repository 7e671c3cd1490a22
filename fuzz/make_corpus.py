#!/usr/bin/env python3
"""Writes the seed corpus of the lean_head target (fuzz/corpus/lean_head/).

Each input is: one byte k (split points, k % 8), one byte g (growth: when
non-zero, 65 280 + g filler bytes 'a' are inserted), one byte p (where the
filler goes, p % (len(payload) + 1)), k split offsets as little-endian u16,
then the payload. See README.md.
"""

import pathlib
import struct

HUB = b"/.well-known/mercure"
TOPIC = b"topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"
GET = b"GET " + HUB + b"?" + TOPIC + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"
FILLER = 64 * 1024 - 256


def case(payload, cuts=(), grow=0, at=0):
    """`cuts` are offsets into the stream, each in 1..len(stream) - 1."""
    head = bytes([len(cuts), grow, at])
    # The target cuts at 1 + offset % (len(stream) - 1).
    return head + b"".join(struct.pack("<H", c - 1) for c in cuts) + payload


SEEDS = {
    # Valid heads: the lean path's subscription, whole and in pieces.
    "get": case(GET),
    "get_split": case(GET, cuts=(1, 4, len(GET) - 4, len(GET) - 3, len(GET) - 1)),
    "get_bytewise": case(GET, cuts=tuple(range(1, 8))),
    "get_cors": case(
        b"GET " + HUB + b"?" + TOPIC + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"origin: https://app.example.com\r\n\r\n"
    ),
    "get_last_event_id": case(
        b"GET " + HUB + b"?topic=*&lastEventID=earliest HTTP/1.1\r\n"
        b"last-event-id: earliest\r\n\r\n"
    ),
    "get_match_v1": case(
        b"GET " + HUB + b"?match=https%3A%2F%2Fexample.com%2Fbooks%2F1 HTTP/1.1\r\n\r\n"
    ),
    # QUERY (Mercure 1.0): a body, so hyper's.
    "query": case(
        b"QUERY " + HUB + b" HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/x-www-form-urlencoded\r\ncontent-length: 43\r\n\r\n"
        b"match=https%3A%2F%2Fexample.com%2Fbooks%2F1"
    ),
    "query_split": case(
        b"QUERY " + HUB + b" HTTP/1.1\r\ncontent-length: 7\r\n\r\nmatch=*",
        cuts=(3, 30),
    ),
    # Other requests hyper serves.
    "healthz": case(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
    "publish": case(
        b"POST " + HUB + b" HTTP/1.1\r\ncontent-type: application/x-www-form-urlencoded\r\n"
        b"content-length: 14\r\n\r\ntopic=a&data=b"
    ),
    # The HTTP/2 preface, whole and split inside "PRI ".
    "pri": case(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    "pri_split": case(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", cuts=(2, 4)),
    "pri_short": case(b"PRI"),
    # Oversized: no blank line within 64 KiB; a blank line ending exactly at
    # the bound; one just past it.
    "oversized": case(b"GET / HTTP/1.1\r\nx: ", grow=255, at=19),
    "oversized_split": case(b"GET / HTTP/1.1\r\nx: ", cuts=(4096, 65535), grow=255, at=19),
    "exactly_max": case(b"GET / HTTP/1.1\r\nx: \r\n\r\n", grow=64 * 1024 - FILLER - 23, at=19),
    "one_past_max": case(b"GET / HTTP/1.1\r\nx: \r\n\r\n", grow=64 * 1024 - FILLER - 22, at=19),
    # Malformed or not for the lean path.
    "http10": case(b"GET " + HUB + b"?" + TOPIC + b" HTTP/1.0\r\n\r\n"),
    "pipelined": case(GET + b"GET /healthz HTTP/1.1\r\n\r\n", cuts=(len(GET),)),
    "upgrade": case(b"GET " + HUB + b"?topic=t HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"),
    "chunked": case(b"GET " + HUB + b"?topic=t HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"),
    "content_length": case(b"GET " + HUB + b"?topic=t HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc"),
    "bad_header": case(b"GET " + HUB + b"?topic=t HTTP/1.1\r\nno colon here\r\n\r\n"),
    "bad_percent": case(b"GET " + HUB + b"?topic=%FF HTTP/1.1\r\n\r\n"),
    "obs_text": case(b"GET " + HUB + b"?topic=t HTTP/1.1\r\nx-name: caf\xe9\r\n\r\n"),
    "bare_lf": case(b"GET " + HUB + b"?topic=t HTTP/1.1\nhost: x\n\n"),
    "blank_only": case(b"\r\n\r\n"),
    "no_blank_line": case(b"GET " + HUB + b"?topic=t HTTP/1.1\r\nhost: x\r\n"),
    "garbage": case(bytes(range(256))),
}


def main():
    out = pathlib.Path(__file__).parent / "corpus" / "lean_head"
    out.mkdir(parents=True, exist_ok=True)
    for name, data in SEEDS.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
