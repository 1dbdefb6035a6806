"""The migrate hook: checks the schema the SQL migrations made."""

import os
import sys

from . import pg


def main():
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("migrate: no DATABASE_URL", file=sys.stderr)
        return 1
    conn = pg.Connection(url)
    try:
        rows = conn.query("SELECT count(*) FROM notes")
        print("migrate: notes table has %s rows" % rows[0][0])
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
