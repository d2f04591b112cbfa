#!/usr/bin/env bash
# Create .venv-opentrons beside biofab's .venv: a separate environment holding the
# Opentrons simulator (opentrons_simulate). The opentrons package pins numpy < 2,
# which biofab's own environment cannot take; a lab runs protocols from the
# Opentrons App anyway, never from its analysis stack.
#
# Idempotent: when the environment already holds the pinned version, it does nothing.
# Usage: scripts/opentrons-env.sh            (PYTHON=python3.11 to pick the interpreter,
#                                             OPENTRONS_ENV=path to place it elsewhere)
set -euo pipefail

# 8.8.2, the last 8.x: opentrons 10.1.0 (the newest) fails at import on Python 3.11
# (pydantic refuses its typing.TypedDict fields before Python 3.12), and the OT-2
# robots themselves run Python 3.10.
OPENTRONS_VERSION="8.8.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENV_DIR="${OPENTRONS_ENV:-$ROOT/.venv-opentrons}"
PYTHON="${PYTHON:-python3}"
STAMP="$ENV_DIR/.opentrons-$OPENTRONS_VERSION"

if [[ -f "$STAMP" && -x "$ENV_DIR/bin/opentrons_simulate" ]]; then
  echo "opentrons-env: $ENV_DIR already holds opentrons $OPENTRONS_VERSION; nothing to do"
  exit 0
fi

if [[ ! -x "$ENV_DIR/bin/python" ]]; then
  echo "opentrons-env: creating virtual environment $ENV_DIR with $PYTHON"
  "$PYTHON" -m venv "$ENV_DIR"
fi
echo "opentrons-env: installing opentrons==$OPENTRONS_VERSION from PyPI (a few minutes)"
"$ENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
  "opentrons==$OPENTRONS_VERSION"
# Check the simulator imports (a broken install leaves no stamp, so the next run retries).
# Its first run also writes its default configuration under ~/.opentrons.
"$ENV_DIR/bin/opentrons_simulate" --help >/dev/null
touch "$STAMP"
echo "opentrons-env: ready: $ENV_DIR/bin/opentrons_simulate (opentrons $OPENTRONS_VERSION)"
