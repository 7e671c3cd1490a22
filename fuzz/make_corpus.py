#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/).

Existing files are overwritten, others (inputs a run merged in) kept.

lean_head: each input is one byte k (split points, k % 8), one byte g (growth: when
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


LEAN_HEAD = {
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


def cut(payload, cuts=()):
    """The cut format of the sse target (fuzz/src/lib.rs `cut`): one byte
    of cut count, two bytes (little-endian) per cut offset, the payload."""
    return bytes([len(cuts)]) + b"".join(struct.pack("<H", c) for c in cuts) + payload


BOM = b"\xef\xbb\xbf"
EVENT = b"id: urn:uuid:1\nevent: book\nretry: 2500\ndata: {\"title\":\ndata:  \"Dune\"}\n\n"
SSE = {
    # The spec's examples (WHATWG HTML, server-sent events).
    "spec_stock": cut(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
    "spec_comment": cut(b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n"),
    "spec_empty": cut(b"data\n\ndata\ndata\n\ndata:\n"),
    "spec_space": cut(b"data:test\n\ndata: test\n\n"),
    "mercure": cut(EVENT),
    "mercure_cut": cut(EVENT, (1, 5, 20, 40)),
    # Line ends: CRLF, CR, LF, mixed, and a CRLF cut between its CR and LF.
    "crlf": cut(EVENT.replace(b"\n", b"\r\n"), (15,)),
    "cr": cut(EVENT.replace(b"\n", b"\r"), (15, 16)),
    "mixed": cut(b"id: 1\r\ndata: a\rdata: b\n\r\ndata: c\r\n\n"),
    "crlf_split": cut(b"data: a\r\n\r\n", (8, 10)),
    # The BOM: whole, split, twice (the second is data), alone.
    "bom": cut(BOM + EVENT),
    "bom_split": cut(BOM + EVENT, (1, 2, 3)),
    "bom_twice": cut(BOM + BOM + b"data: x\n\n"),
    "bom_partial": cut(b"\xef\xbbdata: x\n\n", (1,)),
    # Fields: retry (2^63, u64 overflow, not digits), ids with a NUL,
    # event 'message', unknown fields, no colon, empty id resetting.
    "retry_edge": cut(b"retry: 9223372036854775808\ndata: a\n\nretry: 18446744073709551616\ndata: b\n\nretry: 1x\ndata: c\n\n"),
    "id_nul": cut(b"id: a\x00b\ndata: x\n\nid\ndata: y\n\n"),
    "event_message": cut(b"event: message\ndata: x\n\nevent:\ndata: y\n\n"),
    "fields": cut(b"foo: bar\nid:1\nevent:e\ndata:d\nretry\n:comment\n\n"),
    "invalid_utf8": cut(b"id: \xff\xfe\nevent: \xc3\ndata: \xe2\x82\ndata: ok\n\n", (7, 19)),
    # Near and past the size limit of the target's decoders (2 KiB).
    "huge_line": cut(b"data: " + b"x" * 2100 + b"\n\n"),
    "huge_data": cut(b"data: " + b"x" * 1000 + b"\ndata: " + b"y" * 1000 + b"\n\n", (500, 1500)),
    "no_end": cut(b"data: x\ndata: y"),
}

FORMS = {
    "client": b"topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&data=%7B%22title%22%3A%22Dune%22%7D",
    "full": b"topic=a&topic=b&data=x%0Ay&private=on&id=i&type=t&retry=2500&unknown=1",
    "plus": b"topic=a+b&data=1+%2B+2",
    "wildcard": b"topic=*&data=x",
    "reserved": b"topic=%2F.well-known%2Fmercure%2Fsubscriptions%2Fx&data=x",
    "reserved_encoded": b"topic=https%3A%2F%2Fexample.com%2F.well-known%2F%6Dercure%2Fx",
    "type_mercure": b"topic=a&type=mercure",
    "ff": b"topic=%FF",
    "surrogate": b"topic=%ED%A0%80",
    "raw_ff": b"topic=a&data=\xff",
    "bad_percent": b"topic=%zz&data=%4&id=%",
    "format_chars": b"topic=a%E2%80%8B&data=x",
    "bidi": b"topic=a&id=%E2%80%AE",
    "newline_id": b"topic=a&id=x%0Ay",
    "newline_type": b"topic=a&type=x%0D%0Adata:%20y",
    "control": b"topic=a%00b",
    "retry_2_63": b"topic=a&retry=9223372036854775808",
    "retry_overflow": b"topic=a&retry=18446744073709551616",
    "retry_empty": b"topic=a&retry=",
    "earliest": b"topic=a&id=earliest",
    "hash_id": b"topic=a&id=%23x",
    "empty_pairs": b"&&topic=a&&=&data&",
    "many_topics": b"&".join(b"topic=t%d" % i for i in range(120)),
    "huge_data": b"topic=a&data=" + b"x" * 4000,
    "no_topic": b"data=x",
}

URL_PATTERNS = [
    "/books/:id", "/books/:id?", "/books/:id+", "/books/:id*", "/books/*",
    "/users/:id(\\d+)", "/a{/b}?/c", "https://*.example.com/books/:id",
    "http{s}?://example.com/*", "https://example.com/search?q=:q",
    "https://example.com/doc#:section", "urn\\:uuid\\::id", "/(books|authors)/:id",
    "*://*/" + "*" * 200, "/(\\w+)(\\w+)(\\w+)(\\w+)(\\w+)(\\w+)", "/(\\p{L}+)",
    "/((((((((a))))))))", "/(a{1000}){1000}", "(.*)://(.*)", "/:a(.*)/:b(.*)/:c(.*)",
]
TEMPLATES = [
    "https://example.com/books/{id}", "https://example.com/{+path}", "/{a}{b}{c}",
    "https://example.com/{?q,lang}", "https://example.com/{#frag}", "/{.ext}",
    "/{/a,b}", "/{;x,y}", "/{&k}", "/{var:3}", "/{list*}", "/{{nested}}",
    "/{a{b}c}", "/{", "/}", "/{}", "/{" + ",".join("v%d" % i for i in range(40)) + "}",
    "{" + "}{".join("v%d" % i for i in range(30)) + "}", "/{%FF}", "/{a.b}",
]
TOPICS = [
    "https://example.com/books/1", "/books/1", "/books/", "/books/1/2",
    "https://www.example.com/books/1", "https://example.com/search?q=cat",
    "https://example.com/doc#intro", "urn:uuid:1234", "/users/42",
    "https://example.com/caf%C3%A9", "https://example.com/café", "/a/b/c",
    "https://example.com/" + "a/" * 100, "*", "",
]


def selector(mode, expression, topics=TOPICS):
    return bytes([mode]) + "\n".join([expression] + topics).encode()


SELECTOR = {}
for i, p in enumerate(URL_PATTERNS):
    SELECTOR["urlpattern_%02d" % i] = selector(3, p)
for i, t in enumerate(TEMPLATES):
    SELECTOR["template_%02d" % i] = selector(0, t)
SELECTOR.update({
    "exact_v0": selector(0, "https://example.com/books/1"),
    "exact_v1": selector(1, "https://example.com/books/1"),
    "wildcard_v0": selector(0, "*"),
    "wildcard_v1": selector(3, "*"),
    "format_chars": selector(3, "/books/\u200b:id", ["/books/\u200b1"]),
    "long_pattern": selector(3, "/" + "a" * 1100),
})

LINK = {
    "discovery": b'<https://example.com/.well-known/mercure>; rel="mercure"',
    "spec": b'</.well-known/mercure>; rel="mercure"; last-event-id="urn:uuid:1", <https://example.com/books/1>; rel=self',
    "many_rels": b'<a>; rel="mercure Self  NEXT"; rel=other; title*=UTF-8\'\'%E2%82%AC; anchor="#x"',
    "escapes": b'<a>; rel="mer\\"cure\\\\"; x="a,b;c"',
    "commas_in_target": b'<https://example.com/a,b>; rel=mercure, <c>; rel=d',
    "malformed": b'<a; rel=mercure, b>; rel=x, <>, <c> rel=d, <d>;;; rel',
    "unterminated": b'<https://example.com; rel="mercure',
    "percent": b'<%FF%00>; rel=mercure, <http://[::1]:99999/>; rel=x',
    "non_ascii": "<https://例え.テスト/パス>; rel=\"mercure\"; title=\"é\"".encode(),
    "invalid_utf8": b'<\xff>; rel="\xfe"',
    "huge": b'<a>; rel="' + b"x " * 2000 + b'"',
}

WWW_AUTHENTICATE = {
    "rfc6750": b'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
    "rfc9728": b'Bearer resource_metadata="https://example.com/.well-known/oauth-protected-resource"',
    "several": b'Basic realm="x", Bearer realm="hub", error=insufficient_scope, error_description="no publish grant"',
    "escapes": b'Bearer error_description="The token \\"expired\\"", scope="a\\\\b"',
    "token68": b'Negotiate abc==, Bearer realm=x',
    "empty": b'Bearer',
    "case": b'bEaReR ERROR="x", Realm=y',
    "duplicates": b'Bearer error=a, error=b',
    "unterminated": b'Bearer realm="x',
    "trailing_backslash": b'Bearer realm="x\\',
    "invalid_utf8": b'Bearer realm="\xff\xfe", error=\xc3',
    "separators": b',,, ,Bearer ,, realm = "x" ,,',
}

HS256 = b'{"alg":"HS256","typ":"JWT"}'
V0 = b'{"mercure":{"publish":["*"],"subscribe":["https://example.com/books/{id}"],"payload":{"user":1}},"exp":9223372036854775808}'
V1 = (b'{"iss":"https://app.example.com","aud":"https://example.com/.well-known/mercure","sub":"u",'
      b'"exp":1893456000,"iat":1700000000,"authorization_details":[{"type":"https://mercure.rocks/authorization-detail",'
      b'"actions":["publish","subscribe"],"topics":[{"match":"*"},{"match":"/books/:id","match_type":"urlpattern"}],"payload":{"a":1}}]}')
TOKEN = {
    "raw_garbage": b"\x00not.a.token",
    "raw_none": b"\x00eyJhbGciOiJub25lIn0.eyJtZXJjdXJlIjp7fX0.",
    "raw_two_parts": b"\x00eyJhbGciOiJIUzI1NiJ9.e30",
    "raw_bad_base64": b"\x00eyJhbGciOiJIUzI1NiJ9.%%%.***",
    "v0": b"\x01" + V0,
    "v0_empty": b"\x01{\"mercure\":{}}",
    "v0_strings": b'\x01{"mercure":{"publish":"*","subscribe":[1,2]}}',
    "v1": b"\x01" + V1,
    "v1_short_type": b'\x01{"authorization_details":[{"type":"mercure","actions":["subscribe"],"topics":[{"match":"*"}]}]}',
    "v1_unknown_match": b'\x01{"authorization_details":[{"type":"mercure","actions":["publish"],"topics":[{"match":"a","match_type":"regex"}]}]}',
    "v1_other_type": b'\x01{"authorization_details":[{"type":"other","x":1}]}',
    "exp_2_63": b'\x01{"exp":9223372036854775808,"nbf":18446744073709551615,"iat":-1}',
    "exp_past": b'\x01{"exp":1,"mercure":{"publish":["*"]}}',
    "nbf_future": b'\x01{"nbf":4102444800,"mercure":{"publish":["*"]}}',
    "aud_list": b'\x01{"aud":["a","b"],"iss":"x","mercure":{"subscribe":["*"]}}',
    "both_claims": b'\x01{"mercure":{"publish":["*"]},"authorization_details":[]}',
    "not_object": b"\x01[1,2,3]",
    "deep": b"\x01" + b"[" * 200 + b"]" * 200,
    "header_v1": b"\x02" + b'{"alg":"HS256","typ":"at+jwt"}\xff' + V1,
    "header_crit": b"\x02" + b'{"alg":"HS256","crit":null}\xff' + V0,
    "header_none": b"\x02" + b'{"alg":"none"}\xff' + V0,
    "header_space": b"\x02" + b'{"alg":" HS256"}\xff' + V0,
    "header_rs256": b"\x02" + b'{"alg":"RS256"}\xff' + V0,
}

TARGETS = {
    "lean_head": LEAN_HEAD,
    "sse": SSE,
    "publish_form": FORMS,
    "selector": SELECTOR,
    "link_header": LINK,
    "www_authenticate": WWW_AUTHENTICATE,
    "token": TOKEN,
}


def main():
    for target, seeds in TARGETS.items():
        out = pathlib.Path(__file__).parent / "corpus" / target
        out.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (out / name).write_bytes(data)


if __name__ == "__main__":
    main()
