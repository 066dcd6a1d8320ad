"""`python -m analytics`: see analytics/cli/."""

import sys

if sys.argv[1:2] == ["import"]:  # the parse worker starts up while this process loads the importer (0.3 s)
    from analytics import parse_isolation
    from analytics.upload_guard import FILE_LIMITS

    parse_isolation.start_worker(FILE_LIMITS)

from analytics.cli import main  # noqa: E402 (after the worker's start)

sys.exit(main())
