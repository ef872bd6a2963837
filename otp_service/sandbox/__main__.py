"""``python -m otp_service.sandbox [--host H] [--port P]``."""

import argparse

from .server import main

parser = argparse.ArgumentParser(prog="python -m otp_service.sandbox", description=__doc__)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8001)
args = parser.parse_args()
main(args.host, args.port)
