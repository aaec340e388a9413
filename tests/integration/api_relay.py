"""ExaBGP API process: copy command lines from a named pipe to ExaBGP.

Usage (in ExaBGP's config): run /usr/bin/python3 api_relay.py PIPE;
pop.ExaBGP.send() writes to PIPE.
"""

import os
import sys

# O_RDWR: we hold a writer ourselves, so the pipe never reads EOF between
# two senders and a sender never blocks waiting for a reader.
with os.fdopen(os.open(sys.argv[1], os.O_RDWR), "rb") as pipe:
    for line in pipe:
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
