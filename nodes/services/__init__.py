"""Node services: nodes.py (hosts), images.py (build, pull, inventory on one
node), tasks.py (background tasks and their fan-out)."""
