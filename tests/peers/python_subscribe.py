"""Subscribes to a Mercure hub with httpx-sse and prints one JSON line per
event: {"kind": "open"} once connected, then {"kind": "message", "id",
"type", "data"} for each update. Exits after COUNT messages.

    python python_subscribe.py URL COUNT [TOKEN]
"""
import json
import sys

import httpx
from httpx_sse import connect_sse


def main() -> int:
    url, count = sys.argv[1], int(sys.argv[2])
    token = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    received = 0
    with httpx.Client(timeout=httpx.Timeout(20.0)) as client:
        with connect_sse(client, "GET", url, headers=headers) as source:
            source.response.raise_for_status()
            print(json.dumps({"kind": "open"}), flush=True)
            for event in source.iter_sse():
                print(
                    json.dumps(
                        {"kind": "message", "id": event.id, "type": event.event, "data": event.data}
                    ),
                    flush=True,
                )
                received += 1
                if received >= count:
                    return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
