"""The record log of the node: its own signed entries (:mod:`.publisher`), other origins' verified runs
(:mod:`.replica`) and the statements and reads they share (:mod:`.log`).

Layers, each importing only those below it: services → records → search (:mod:`node.search`) → storage
(:mod:`node.storage`: the database and its tables). Records are indexed as they are stored, so this package sits
above the search index; ``tests/node/test_layers.py`` holds the order.
"""
