"""The chaos suite's library: the steady-state hypothesis (steady.py), probes through fresh
connections (probes.py), recovery timing (recovery.py), the bounded writer and its Jepsen-style
accounting (history.py) and bounded load (load.py). Faults themselves are in stackprobe.faults."""
