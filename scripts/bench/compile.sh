#!/usr/bin/env bash
# scripts/bench/compile.sh [ROUNDS] — how much of a release's
# byte-compilation `deploykit create` hides behind the steps that do not
# need it (instance/compile.go: the release compiles in the background
# from the build step to the compile step, while the database and broker
# are provisioned and their servers started).
#
# The application is Django + gunicorn + psycopg2 from the test
# wheelhouse, with Django's migrations as its migrate hook. Each round:
#   1. the first instance on a new root: cold caches, and the embedded
#      PostgreSQL cluster made (initdb) and started meanwhile;
#   2. a new instance on that root after emptying the shared cache:
#      cold caches, the cluster running (a role and a database to make).
# For each, create's wall time and the line it prints:
#   "byte-compiled N modules in Xs, Ys of it while the steps after the
#    build ran (waited Zs)".
# Needs root, Python 3.11 at /usr/bin/python3 (the wheels' ABI),
# PostgreSQL server binaries and the test wheelhouse.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "compile.sh: needs root (instance users)" >&2; exit 1; }
wh=${DEPLOYKIT_TEST_WHEELHOUSE:-/var/tmp/deploykit-test/wheelhouse}/wheels
[[ -d $wh ]] || { echo "compile.sh: no wheelhouse at $wh (run scripts/test.sh once)" >&2; exit 1; }
rounds=${1:-2}

tmp=$(mktemp -d /var/tmp/dkcompile.XXXXXX)
chmod 755 "$tmp"
roots=()
cleanup() {
	set +e
	for r in "${roots[@]}"; do
		for n in cc1 cc2; do "$tmp/deploykit" --root "$r" remove "$n" --yes --delete-backups >/dev/null 2>&1; done
		"$tmp/deploykit" --root "$r" shutdown >/dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/deploykit" ./examples/deploykit

dj=$tmp/djapp
mkdir -p "$dj/djdemo"
printf -- '--no-index\n--find-links %s\nDjango>=3.2,<4\ngunicorn\npsycopg2\n' "$wh" >"$dj/requirements.txt"
: >"$dj/djdemo/__init__.py"
printf 'from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n' >"$dj/djdemo/wsgi.py"
printf 'from django.http import HttpResponse\nfrom django.urls import path\nurlpatterns = [path("", lambda r: HttpResponse("ok"))]\n' >"$dj/djdemo/urls.py"
cat >"$dj/djdemo/settings.py" <<'PYEOF'
import os
from urllib.parse import parse_qs, unquote, urlsplit
SECRET_KEY = "bench"
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
ROOT_URLCONF = "djdemo.urls"
_u = urlsplit(os.environ["DATABASE_URL"]); _q = parse_qs(_u.query)
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": unquote(_u.path.lstrip("/")),
    "USER": unquote(_u.username or ""), "PASSWORD": unquote(_u.password or ""),
    "HOST": _q.get("host", [_u.hostname or ""])[0], "PORT": _q.get("port", [str(_u.port or "")])[0]}}
PYEOF
cat >"$dj/app.toml" <<TOMLEOF
name = "djdemo"
python = ">=3.11, <3.12"
requirements = ["requirements.txt"]
[env]
DJANGO_SETTINGS_MODULE = "djdemo.settings"
PYTHONPATH = "$dj"
[database]
[hooks]
migrate = ["python", "-m", "django", "migrate", "--noinput"]
[services.web]
command = ["gunicorn", "djdemo.wsgi", "--workers", "2"]
listen = true
TOMLEOF

create() { # create ROOT NAME LABEL
	local out t0 t1
	t0=$(date +%s.%N)
	out=$("$tmp/deploykit" --root "$1" create "$2" --spec "$dj/app.toml" 2>&1) || { echo "$out" >&2; exit 1; }
	t1=$(date +%s.%N)
	printf '   %-58s create %6.2f s   %s\n' "$3" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
		"$(grep -o 'byte-compiled.*' <<<"$out" || echo 'no compile line')"
}
for r in $(seq 1 "$rounds"); do
	root=$tmp/root$r
	roots+=("$root")
	echo "round $r:"
	create "$root" cc1 "first instance, new root (initdb, cold caches):"
	"$tmp/deploykit" --root "$root" remove cc1 --yes >/dev/null 2>&1
	rm -rf "$root/cache"
	create "$root" cc2 "new instance, cluster running, cache emptied:"
	"$tmp/deploykit" --root "$root" remove cc2 --yes >/dev/null 2>&1
	"$tmp/deploykit" --root "$root" shutdown >/dev/null 2>&1
done
