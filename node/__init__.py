"""One cooperative's Bigre node: members, offers, mutual support, accounts, the JSON API and the ``bigre`` CLI.

Layout: ``config``/``keyfile`` (the node folder), ``storage`` (SQLAlchemy models, database, replication log,
search), ``publisher`` (signed entries of this node's log), ``services`` (business rules), ``api``/``app``
(HTTP), ``cli`` (the command line). Exceptions: :mod:`node.errors`.
"""
