import sys

from examples.langgraph_agent.main import main

sys.exit(main())
