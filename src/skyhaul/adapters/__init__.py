"""skyhaul.adapters."""
