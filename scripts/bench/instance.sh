#!/usr/bin/env bash
# scripts/bench/instance.sh — instance figures, one run:
#
#  1. create of a second instance of a spec whose release is cached (wall
#     time of `deploykit create`, including user, role+database on the
#     embedded cluster, venv from the shared cache, migration, service start
#     and health check), against what it replaces: `python -m venv` + `pip
#     install` of the same requirement list from the same wheels (just the
#     venv part of the old scripts); ratio printed;
#  2. upgrade downtime: requests from bounded local load (4 curl loops)
#     during `deploykit upgrade` and `deploykit rollback`; failed requests
#     printed (the goal is zero);
#  3. the broker: second instances of the Django spec without a broker,
#     with [broker], and with [broker] and a celery worker taking turns
#     (the embedded RabbitMQ node running, caches warm), each round with
#     deploykit's CPU-seconds and the differences of the medians printed
#     (goal < 2 s); and provisioning alone (vhost,
#     user, permissions) on that running node, BenchmarkProvision of
#     instance/broker (goal < 200 ms).
#
# Needs root, Python 3, PostgreSQL server binaries, rabbitmq-server, curl,
# and the test wheelhouse (scripts/test.sh builds it).
# Usage: scripts/bench/instance.sh [BROKER-ROUNDS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

[[ $(id -u) == 0 ]] || { echo "instance.sh: needs root (instance users)" >&2; exit 1; }
wh=${DEPLOYKIT_TEST_WHEELHOUSE:-/var/tmp/deploykit-test/wheelhouse}/wheels
[[ -d $wh ]] || { echo "instance.sh: no wheelhouse at $wh (run scripts/test.sh once)" >&2; exit 1; }
command -v curl >/dev/null || { echo "instance.sh: needs curl" >&2; exit 1; }

tmp=$(mktemp -d /tmp/dkbench.XXXXXX)
chmod 755 "$tmp"
root=$tmp/root
dk() { "$tmp/deploykit" --root "$root" "$@"; }
cleanup() {
	set +e
	[[ -f $tmp/stop ]] || touch "$tmp/stop"
	wait 2>/dev/null
	for n in bench-a bench-b bench-dj1 bench-dj2 bench-djb1 bench-djb2 bench-djn2 bench-djq2; do dk remove "$n" --yes --delete-backups >/dev/null 2>&1; done
	dk shutdown >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", b - a }'; }

go build -o "$tmp/deploykit" ./examples/deploykit

app=$tmp/app
mkdir -p "$app/migrations"
cp "$repo/instance/testdata/app/server.py" "$app/server.py"
printf -- '--no-index\n--find-links %s\nsix\n' "$wh" >"$app/requirements.txt"
echo 'CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);' >"$app/migrations/0001_notes.sql"
write_spec() {
	cat >"$app/app.toml" <<EOF
name = "benchapp"
python = ">=3.8"
requirements = ["requirements.txt"]
[env]
APP_VERSION = "$1"
[database]
migrations = "migrations"
[services.web]
command = ["python", "$app/server.py"]
listen = true
EOF
}
write_spec 1

echo "== first instance (initdb of the embedded cluster, cold cache)"
t0=$(now); dk create bench-a --spec "$app/app.toml" >/dev/null 2>&1; t1=$(now)
echo "create bench-a: $(elapsed "$t0" "$t1") s"

echo "== second instance of the same spec (cached release)"
t0=$(now); dk create bench-b --spec "$app/app.toml" >/dev/null 2>&1; t1=$(now)
create2=$(elapsed "$t0" "$t1")
echo "create bench-b: $create2 s (goal < 3 s)"

# What it replaces: a venv and pip install of the same requirement list.
base=""
for p in "$HOME"/.pyenv/versions/3.11*/bin/python3 /usr/bin/python3; do
	if [[ -x $p ]] && "$p" -m pip --version >/dev/null 2>&1; then base=$p; break; fi
done
if [[ -n $base ]]; then
	t0=$(now)
	"$base" -m venv "$tmp/pipvenv"
	"$tmp/pipvenv/bin/pip" install -q --disable-pip-version-check --no-index --find-links "$wh" six
	t1=$(now)
	pip=$(elapsed "$t0" "$t1")
	echo "python -m venv + pip install (same requirements, same wheels): $pip s"
	awk -v a="$pip" -v b="$create2" 'BEGIN { printf "ratio: a whole deploykit create (user, db, venv, migrate, start) is %.1fx faster than venv+pip alone\n", a / b }'
else
	echo "no interpreter with pip found: baseline skipped"
fi

# The same with a real application: Django + gunicorn + psycopg2 (the
# wheelhouse's), Django's migrations as the migrate hook.
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
echo "== Django + gunicorn + psycopg2 spec"
t0=$(now); dk create bench-dj1 --spec "$dj/app.toml" >/dev/null 2>&1; t1=$(now)
echo "create bench-dj1 (first instance of the spec): $(elapsed "$t0" "$t1") s"
t0=$(now); dk create bench-dj2 --spec "$dj/app.toml" >/dev/null 2>&1; t1=$(now)
echo "create bench-dj2 (second instance, cached release): $(elapsed "$t0" "$t1") s (goal < 3 s)"
dk remove bench-dj2 --yes >/dev/null 2>&1

# 3. The broker. The same Django app with [broker] and a celery worker
# (celery from the wheelhouse, the task module beside the settings).
rounds=${1:-3}
printf -- 'celery\n' >>"$dj/requirements.txt"
printf 'from celery import Celery\napp = Celery("djdemo")\n' >"$dj/djdemo/celery.py"
sed -e 's/^name = "djdemo"/name = "djdemob"/' "$dj/app.toml" >"$dj/broker.toml"
cat >>"$dj/broker.toml" <<'TOMLEOF'
[broker]
kind = "rabbitmq"
[services.worker]
command = ["celery", "-A", "djdemo", "worker", "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
TOMLEOF
echo "== Django + gunicorn + psycopg2 + celery with [broker] (embedded RabbitMQ node)"
t0=$(now); dk create bench-djb1 --spec "$dj/broker.toml" >/dev/null 2>&1 || { echo "create bench-djb1 failed" >&2; dk create bench-djb1 --spec "$dj/broker.toml"; }; t1=$(now)
echo "create bench-djb1 (first instance with a broker: starts the node, builds the release): $(elapsed "$t0" "$t1") s"
# Three second instances take turns: the app without a broker, the same
# with [broker] only, and with [broker] and a celery worker (the same
# requirements, celery included, in all three). Wall time, and the
# CPU-seconds of deploykit and its children (rusage: what a loaded
# machine changes least; the node's own work and the components'
# start-up are not in it).
{ cat "$dj/app.toml"; printf '[broker]\nkind = "rabbitmq"\n'; } | sed -e 's/^name = "djdemo"/name = "djdemoq"/' >"$dj/broker-only.toml"
cpu() { awk '{ printf "%.2f", $1 + $2 }' "$tmp/cpu"; }
timed() { # NAME SPEC: prints "WALL CPU"
	local t0 t1
	t0=$(now)
	/usr/bin/time -f '%U %S' -o "$tmp/cpu" "$tmp/deploykit" --root "$root" create "$1" --spec "$2" >/dev/null 2>&1
	t1=$(now)
	echo "$(elapsed "$t0" "$t1") $(cpu)"
}
with=() without=() only=()
for r in $(seq 1 "$rounds"); do
	read -r a ca < <(timed bench-djn2 "$dj/app.toml")
	read -r q cq < <(timed bench-djq2 "$dj/broker-only.toml")
	read -r b cb < <(timed bench-djb2 "$dj/broker.toml")
	with+=("$b") without+=("$a") only+=("$q")
	echo "round $r: second instance without broker $a s ($ca CPU-s); with [broker] $q s ($cq CPU-s, $(delta "$a" "$q") s); with [broker] and a celery worker $b s ($cb CPU-s, $(delta "$a" "$b") s)"
	for n in bench-djn2 bench-djq2 bench-djb2; do dk remove "$n" --yes >/dev/null 2>&1; done
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
mw=$(median "${with[@]}") mo=$(median "${without[@]}") mq=$(median "${only[@]}")
echo "medians: without $mo s; with [broker] $mq s: $(delta "$mo" "$mq") s; with [broker] and a worker $mw s: $(delta "$mo" "$mw") s (goal < 2 s)"
# Provisioning alone, on the running node: its management API as the
# root's administrator.
read -r mport < <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["management"])' "$root/rabbitmq/ports.json")
export DEPLOYKIT_TEST_BROKER_URL="http://deploykit-admin:$(cat "$root/rabbitmq/admin.password")@127.0.0.1:$mport/"
go test -run '^$' -bench BenchmarkProvision -benchtime 20x ./instance/broker | grep -E '^Benchmark' |
	awk '{ printf "provisioning alone (vhost, user, permissions): %.1f ms per instance (goal < 200 ms)\n", $3 / 1e6 }'
unset DEPLOYKIT_TEST_BROKER_URL
dk remove bench-djb1 --yes >/dev/null 2>&1
dk remove bench-dj1 --yes >/dev/null 2>&1

port=$(dk status bench-a --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ports"]["web"])')
echo "== upgrade + rollback of bench-a under load (4 curl loops on 127.0.0.1:$port)"
load() {
	local ok=0 fail=0
	while [[ ! -f $tmp/stop ]]; do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/") == 200 ]]; then
			ok=$((ok + 1))
		else
			fail=$((fail + 1))
		fi
	done
	echo "$ok $fail" >"$tmp/load.$1"
}
for i in 1 2 3 4; do load "$i" & done
sleep 1
write_spec 2
t0=$(now); dk upgrade bench-a --spec "$app/app.toml" >/dev/null 2>&1; t1=$(now)
echo "upgrade: $(elapsed "$t0" "$t1") s"
sleep 1
t0=$(now); dk rollback bench-a >/dev/null 2>&1; t1=$(now)
echo "rollback: $(elapsed "$t0" "$t1") s"
sleep 1
touch "$tmp/stop"
wait
ok=0 fail=0
for i in 1 2 3 4; do
	read -r o f <"$tmp/load.$i"
	ok=$((ok + o)) fail=$((fail + f))
done
echo "requests during upgrade and rollback: $((ok + fail)), failed: $fail (goal 0)"
