"""Small download programs the harness runs as peers (``python -m benchmarks.clients.X``)."""
