"""skyhaul.cli."""
