import sys

from examples.plain_agent.main import main

sys.exit(main())
