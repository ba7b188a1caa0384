"""The operations of this project. Change them, then `opflow scan steps -o
operations.toml` writes the manifest again; `opflow run --param name=World`
runs the flow."""

from opflow import operation


@operation(name="hello.greet")
def greet(name: str) -> str:
    """Say hello to someone."""
    return f"Hello, {name}!"


@operation(name="hello.shout")
async def shout(greet: str) -> str:
    """The greeting, louder: `greet` is the result of `hello.greet`."""
    return greet.upper()
