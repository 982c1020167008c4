"""``make bench``: skyhaul against curl, wget, aria2c and parfive on one loopback server.

Entry point: ``python -m benchmarks.run`` (see ``benchmarks/README.md``).
"""
