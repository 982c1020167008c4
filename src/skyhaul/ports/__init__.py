"""Ports: the typed seams between services and the outside world.

Services see every outside system through a Protocol defined here (catalog roles,
transports, sinks); adapters implement them. Ports depend on ``skyhaul.core`` only, so
both sides can import them without pointing a layer the wrong way.
"""
