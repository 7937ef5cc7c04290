"""What a ``streammem bench`` JSON must hold, for the bench tests on the CPU and on CUDA."""

from streammem.bench.harness import TASK_KEYS


def missing_keys(node, path: str) -> list[str]:
    """Keys TASK_KEYS asks for that one task's result ``node`` lacks, as dotted paths."""
    missing = []
    for spec, keys in TASK_KEYS.items():
        targets = [node]
        for part in [p for p in spec.split(".") if p]:
            many = part.endswith("[]")
            targets = [t[part.removesuffix("[]")] for t in targets]
            if many:  # every list holds rows, except the task's own extras, which may have none
                assert all(isinstance(t, list) and (t or part == "extras[]") for t in targets), f"{path}.{spec}"
                targets = [item for t in targets for item in t]
        missing += [f"{path}.{spec}.{k}" for t in targets for k in keys if k not in t]
    return missing
