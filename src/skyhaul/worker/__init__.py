"""Celery workers over Redis: the distributed executor (an interface, like the CLI).

``app`` builds the Celery application, ``tasks`` holds what a message asks a worker to do.
"""
