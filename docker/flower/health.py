"""Flower's health check: healthy once Flower has heard a live worker (its events).

That means Flower is up, accepts our credentials and receives the workers' events, so a run
sent after this shows all its tasks in Flower (Flower only sees tasks sent after it connects).
"""

import base64
import json
import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("FLOWER_PORT", "5555")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/workers?status=true")
    auth = os.environ.get("FLOWER_BASIC_AUTH", "").split(",")[0]
    if auth:
        token = base64.b64encode(auth.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            alive = json.load(response)
    except (OSError, ValueError) as exc:
        print(f"flower not ready: {exc}", file=sys.stderr)
        return 1
    if not any(alive.values()):
        print("flower has heard no live worker yet", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
