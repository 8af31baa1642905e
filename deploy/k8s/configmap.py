"""Writes deploy/k8s/configmap.yaml: the repository's config.yaml, as it is, in the
ConfigMap the Deployment mounts at /etc/dealerflow/config.yaml.

    .venv/bin/python deploy/k8s/configmap.py          # write
    .venv/bin/python deploy/k8s/configmap.py --check  # exit 1 if it differs
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent.parent / "config.yaml"
OUT = HERE / "configmap.yaml"
HEADER = ("# config.yaml as a ConfigMap (tests/test_deploy.py checks it is the same file; after\n"
          "# editing config.yaml run: .venv/bin/python deploy/k8s/configmap.py)\n")


class _Block(str):
    """A string YAML writes as a literal block (``|``), so the file reads as config.yaml."""


yaml.add_representer(_Block, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s,
                                                             style="|"))


def render() -> str:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dealerflow-config"},
           "data": {"config.yaml": _Block(CONFIG.read_text())}}
    return HEADER + yaml.dump(doc, sort_keys=False, width=1000)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUT.read_text() != text:
            print("deploy/k8s/configmap.yaml is out of date: run deploy/k8s/configmap.py",
                  file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
