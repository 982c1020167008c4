"""skyhaul.adapters.catalog."""
