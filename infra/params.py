"""Parameter file → `aws cloudformation deploy --parameter-overrides` arguments.

The files in infra/parameters/ use the shape {"Parameters": {"Key": "Value", ...}} (the
"CodePipeline" shape AWS CLI v2's `deploy --parameter-overrides file://...` also accepts).
deploy.sh needs to add values of its own (image tag, network ids found at deploy time), and one
`--parameter-overrides` option cannot mix a file with Key=Value pairs, so this module merges
them and prints one `Key=Value` per line, after checking every key against the template.

    python infra/params.py infra/parameters/dev.json --set ImageTag=abc123 [--template T]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("template.yaml")


class ParameterError(ValueError):
    pass


def template_parameters(template: Path = TEMPLATE) -> dict[str, dict]:
    """The template's Parameters section (CloudFormation short-form tags are ignored)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def _any_tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)

    _Loader.add_multi_constructor("!", _any_tag)
    return yaml.load(template.read_text(), Loader=_Loader)["Parameters"]


def _as_text(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ParameterError(f"{key}: value must be a string, number, boolean or list of strings")


def load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Parameters"), dict):
        raise ParameterError(f'{path}: expected {{"Parameters": {{"Key": "Value", ...}}}}')
    return {key: _as_text(key, value) for key, value in data["Parameters"].items()}


def merge(
    values: dict[str, str], overrides: dict[str, str], known: dict[str, dict]
) -> dict[str, str]:
    merged = {**values, **overrides}
    unknown = sorted(set(merged) - set(known))
    if unknown:
        raise ParameterError(f"not parameters of the template: {', '.join(unknown)}")
    for key, value in merged.items():
        allowed = known[key].get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise ParameterError(f"{key}={value}: allowed values are {allowed}")
    missing = sorted(k for k, spec in known.items() if "Default" not in spec and k not in merged)
    if missing:
        raise ParameterError(f"parameters without a default need a value: {', '.join(missing)}")
    return merged


def overrides_lines(path: Path, sets: list[str], template: Path = TEMPLATE) -> list[str]:
    overrides: dict[str, str] = {}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ParameterError(f"--set expects Key=Value, got {item!r}")
        overrides[key] = value
    merged = merge(load(path), overrides, template_parameters(template))
    return [f"{key}={value}" for key, value in merged.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--set", action="append", default=[], metavar="Key=Value")
    parser.add_argument("--get", metavar="Key", help="print one merged value instead")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    try:
        lines = overrides_lines(args.file, args.set, args.template)
    except ParameterError as exc:
        print(f"parameters: {exc}", file=sys.stderr)
        return 2
    if args.get:
        values = dict(line.split("=", 1) for line in lines)
        print(values.get(args.get, ""))
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
