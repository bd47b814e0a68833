"""``python -m ffld`` (and ``torchrun ... -m ffld train CONFIG``): the ``ffld`` command."""

import sys

from ffld.cli import main

sys.exit(main())
