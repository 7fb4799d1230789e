"""The second half of the chaos suite's seeded defects, on a copy of its own (the module's
`chaos_stack`), beside the other half (support/chaos_runs.py)."""

from support.chaos_runs import chaos_stack, shard_test

__all__ = ["chaos_stack", "test_chaos_defects_fail_exactly_their_controls"]
test_chaos_defects_fail_exactly_their_controls = shard_test(1)
