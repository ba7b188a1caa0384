def _pick(value: Any, name: str, index: int) -> Any:
    """A named output of an operation's result: a key of a dict, a field of a
    NamedTuple or another object, or a position in a plain tuple."""
    if isinstance(value, Mapping):
        if name in value:
            return value[name]
    elif isinstance(value, tuple) and not hasattr(type(value), "_fields"):
        if index < len(value):
            return value[index]
    elif hasattr(value, name):
        return getattr(value, name)
    raise LookupError(f"the result has no output `{name}`: {value!r:.200}")
