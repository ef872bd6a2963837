"""The Telnyx sandbox as `make bench` runs it: without its access log.

A line per request costs the machine more than the calls it stands in for. Configured
by ``SANDBOX_*`` like the sandbox (``SANDBOX_SIGNING_KEY`` fixes the webhook key); no
webhook URL is set, so no webhook traffic competes with the measurement.

    python -m bench.sandbox --port 8101
"""

from __future__ import annotations

import argparse

from otp_service.sandbox.config import SandboxConfig
from otp_service.sandbox.server import main as serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    config = SandboxConfig.from_env()
    config.max_messages = 200_000  # the bench reads codes back from the outbox
    serve(options.host, options.port, config, access_log=False)


if __name__ == "__main__":
    main()
