"""skyhaul.services."""
