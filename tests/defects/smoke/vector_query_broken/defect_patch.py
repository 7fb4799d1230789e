"""Defect: vector queries fail (the collection was dropped); heartbeats still answer."""
from sitecustomize import after_import


def patch(vector_store):  # type: ignore[no-untyped-def]
    client = vector_store.vector_client
    call = client.call

    def broken_call(operation, *args, **kwargs):  # type: ignore[no-untyped-def]
        if operation == "query":
            raise RuntimeError("Collection documents does not exist.")
        return call(operation, *args, **kwargs)

    client.call = broken_call


after_import("app.vector_store", patch)
