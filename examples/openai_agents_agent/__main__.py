import sys

from examples.openai_agents_agent.main import main

sys.exit(main())
