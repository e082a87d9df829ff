"""Business rules of one coop's node, independent of HTTP and of the CLI.

Each service takes the few things it needs (the database, the clock, the publisher...) and raises
:mod:`node.errors` exceptions; the HTTP layer and the CLI only translate those.
"""
