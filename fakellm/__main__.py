"""`python -m fakellm`: run a fake llama-server in its own process (see `fakellm.cli`)."""

import sys

from fakellm.cli import main

if __name__ == "__main__":
    sys.exit(main())
