#!/usr/bin/env bash
# Build the documentation site with warnings as errors: the API reference from the
# installed gradcore's docstrings, the gallery (examples/plot_*.py, each run) and the
# notebooks (docs/tutorial.md, docs/user_guide/theory.md, each executed: an error in a
# cell fails the build). Needs `pip install ".[docs]"` in the active environment.
# Usage: tools/build_docs.sh [OUTDIR]   (default docs/_build/html)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/_build/html}"
start=$SECONDS
rm -rf docs/_build/doctrees docs/api docs/auto_examples
# from outside the checkout's root, so that the installed gradcore is the one imported
MPLBACKEND=Agg python -m sphinx -W --keep-going -b html -d docs/_build/doctrees docs "$out"
echo "documentation built in $((SECONDS - start)) s: $out/index.html"
