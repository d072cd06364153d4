import sys

from modelrail.cli import main

sys.exit(main())
