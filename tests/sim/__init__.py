"""A network of federation nodes in one process: the real ``federation`` code over an in-memory transport, on a
virtual clock, with faults (loss, delay, partitions, nodes leaving and coming back). Used by the federation tests
(small networks) and by ``bench/network_sim.py`` (up to hundreds of nodes)."""
