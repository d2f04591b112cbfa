"""``python -m biofab`` runs the ``biofab`` command (as ``python -m biofab.cli`` does), for
an environment whose scripts folder is not on ``PATH``."""

from biofab.cli.main import main

if __name__ == "__main__":
    main()
