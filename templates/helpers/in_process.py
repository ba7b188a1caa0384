_processes: ProcessPoolExecutor | None = None
_processes_lock = threading.Lock()


def _in_process(function: Callable[..., Any]) -> Callable[..., Any]:
    """Run a CPU-bound sync operation in a worker process; its thread only waits."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        global _processes
        with _processes_lock:
            if _processes is None:
                # Fresh interpreters, not forks of this one and its threads.
                context = multiprocessing.get_context("spawn")
                _processes = ProcessPoolExecutor(mp_context=context)
        return _processes.submit(function, *args, **kwargs).result()

    return run
