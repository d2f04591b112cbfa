"""``python -m biofab.cli`` runs the ``biofab`` command."""

from biofab.cli.main import main

main()
