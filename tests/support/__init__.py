"""Support for the project's own tests: throwaway copies of the reference stack and runs of
the suites against them (`from support.stacks import ...`)."""
