"""Federation: peers and trust, signed node-to-node HTTP, replication (pull and push), the durable outbox.

This package never imports ``node``: it reaches storage through the small interfaces in :mod:`federation.ports`,
which the node implements with its database and the tests with in-memory fakes.
"""
