"""``python -m bench [--quick] [--scenario NAME ...] [--mode embedded|distributed]``."""

from bench.cli import main

raise SystemExit(main())
