"""Build a generated DAG with Kedro or Hamilton, in-process, and time it.

    target/bench-python/bin/python benches/peer_graph.py kedro|hamilton DIR

DIR is what `benches/generate.py --kedro --hamilton` wrote. Prints one JSON
object: the peer, its node and edge counts, the time to import the library and
the generated module (`import_s`), and the time to build the graph in-process
(`construct_s`):

- Kedro: `create_nodes()` (one `node(...)` per operation) plus
  `Pipeline(nodes).nodes`, the pipeline and its topological sort
  (`pipeline_s` is that second part alone);
- Hamilton: `driver.Builder().with_modules(hamilton_module).build()`.

`compile_scale.py` runs it in a fresh process per measurement.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import warnings


def kedro() -> dict:
    start = time.perf_counter()
    module = importlib.import_module("kedro_pipeline")
    imported = time.perf_counter()
    nodes = module.create_nodes()
    made = time.perf_counter()
    ordered = module.Pipeline(nodes).nodes
    done = time.perf_counter()
    return {
        "peer": "kedro",
        "nodes": len(ordered),
        "edges": sum(len(node.inputs) for node in ordered),
        "import_s": imported - start,
        "construct_s": done - imported,
        "pipeline_s": done - made,
    }


def hamilton() -> dict:
    start = time.perf_counter()
    from hamilton import driver

    module = importlib.import_module("hamilton_module")
    imported = time.perf_counter()
    built = driver.Builder().with_modules(module).build()
    done = time.perf_counter()
    nodes = built.graph.nodes.values()
    return {
        "peer": "hamilton",
        "nodes": len(nodes),
        "edges": sum(len(node.dependencies) for node in nodes),
        "import_s": imported - start,
        "construct_s": done - imported,
    }


def main() -> None:
    peer, folder = sys.argv[1], sys.argv[2]
    # Kedro warns that dots in dataset names are reserved for namespaces; the
    # names are the operations' on purpose, so the warning is noise here.
    warnings.simplefilter("ignore")
    sys.path.insert(0, folder)
    report = {"kedro": kedro, "hamilton": hamilton}[peer]()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
