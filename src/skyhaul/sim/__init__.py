"""skyhaul.sim."""
