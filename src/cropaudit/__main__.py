"""Allow ``python -m cropaudit``."""

from cropaudit.cli import main

raise SystemExit(main())
