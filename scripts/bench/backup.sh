#!/usr/bin/env bash
# scripts/bench/backup.sh [SCALE] [DOC_ROWS]
#
# Times deploykit's backup and restore (package backup, driven by
# backup/internal/benchcmd) against pg_dump -Fc and pg_restore on the same
# generated database, in a throwaway PostgreSQL cluster this script starts
# and removes itself. Prints times, archive sizes, peak RSS of the client
# process (/usr/bin/time -v) and the ratios.
#
# Data: pgbench -i -s SCALE (default 70: pgbench_accounts is ~900 MB) plus a
# text-heavy table of DOC_ROWS rows (default 600000, ~500 MB of prose-like
# text) and a 1.5M-row jsonb event table: well over 1 GB on disk.
#
# What is compared (both tools run one after the other on the same
# cluster, caches warm, the cluster otherwise idle):
#   backup:  deploykit backup (Jobs = max(2, CPUs))  vs  pg_dump -Fc (default
#            gzip level, single process, as the classic recipe runs it)
#   restore: deploykit restore of its archive (one pass from the stream,
#            temporary database + rename; and with -precheck, which reads the
#            whole archive once more first)  vs  pg_restore of the -Fc dump
#            into a fresh database (single job, the classic recipe), and
#            pg_restore -j 2 for reference. Each restored database is
#            checked against the source and dropped before the next run
#            (else autovacuum works through it while the next tool runs);
#            the tools take turns for ROUNDS rounds (default 3) and each
#            one's fastest run counts (the medians' ratio is printed too).
# Run as root (postgres runs as the postgres user) or as a user who can run
# initdb. Needs Go, PostgreSQL server + contrib (pgbench), /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${1:-70}
docrows=${2:-600000}

bindir=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x $bindir/initdb ]] || { echo "PostgreSQL server binaries not found (set PGBIN)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/dk-bench-backup.XXXXXX)
chmod 755 "$work"
as_pg=()
if [[ $(id -u) == 0 ]]; then
	chown postgres: "$work"
	as_pg=(runuser -u postgres --)
fi
pgdata=$work/data
sock=$work
port=$((20000 + RANDOM % 20000))
cleanup() {
	"${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf '== %s\n' "$*" >&2; }

log "building benchcmd"
go build -o "$work/benchcmd" ./backup/internal/benchcmd

log "starting a throwaway cluster in $pgdata (port $port)"
"${as_pg[@]}" "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
cat >>"$pgdata/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
shared_buffers = 256MB
max_wal_size = 8GB
checkpoint_timeout = 30min
max_connections = 50
EOF
"${as_pg[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$work/postgres.log" -w start >/dev/null

export PGHOST=$sock PGPORT=$port PGUSER=postgres
url="postgres://postgres@/postgres?host=$sock&port=$port&sslmode=disable"
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

log "generating data: pgbench -i -s $scale, $docrows text rows"
psql -d postgres -c "CREATE ROLE benchapp LOGIN" -c "CREATE DATABASE bench OWNER benchapp"
"$bindir/pgbench" -q -i -s "$scale" bench >/dev/null 2>&1
psql -d bench <<EOF
CREATE TABLE docs (id bigint PRIMARY KEY, title text, body text, tags text[], created timestamptz);
-- Prose-like text: words drawn at random from a 160-word vocabulary, with
-- numbers and the odd identifier; gzip and zstd compress it about 3-4x,
-- like real text (a short periodic vocabulary would compress 40x and
-- measure nothing but the scan).
CREATE TEMP TABLE vocab AS SELECT string_to_array(
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were
   her she there been one all we their has would when if so no will can more about said out up what them some could
   into than then other time only its these two may first any new like our over such very where just most after also
   made many before must through back years much way well down should because each people state between instance
   database archive restore stream snapshot table row verify checksum release service config worker queue index vacuum
   replica lock deploy upgrade rollback migration schema tenant invoice customer order payment shipment warehouse product
   catalogue price discount report quarter revenue margin forecast budget contract supplier partner employee manager
   project milestone deadline meeting agenda minutes summary decision action owner status risk issue review approval',
  ' ') AS w;
INSERT INTO docs
SELECT g, 'Document ' || g || ' about ' || v.w[1 + (g % 160)],
  (SELECT string_agg(CASE WHEN random() < 0.04 THEN (random() * 100000)::int::text
                          WHEN random() < 0.01 THEN substr(md5(random()::text), 1, 10)
                          ELSE iv.w[1 + (random() * 159)::int] END
                     || CASE WHEN random() < 0.07 THEN '. ' ELSE ' ' END, '')
   FROM generate_series(1, 90 + g % 60) i, vocab iv),
  ARRAY['t' || (g % 17), 't' || (g % 31)], timestamptz '2020-01-01' + g * interval '1 minute'
FROM generate_series(1, $docrows) g, vocab v;
CREATE INDEX docs_created ON docs (created);
CREATE TABLE events (id bigserial PRIMARY KEY, doc bigint REFERENCES docs(id), kind text, payload jsonb);
INSERT INTO events (doc, kind, payload)
SELECT 1 + g % $docrows, (ARRAY['view','edit','share'])[1 + g % 3], jsonb_build_object('user', g % 1000, 'ms', g % 997, 'path', '/docs/' || g)
FROM generate_series(1, 1500000) g;
ANALYZE;
EOF
dbsize=$(psql -d bench -Atc "SELECT pg_database_size('bench')")
log "database size: $((dbsize / 1024 / 1024)) MiB"
psql -d bench -Atc "CHECKPOINT"

# run NAME CMD...: times CMD with /usr/bin/time -v; records seconds and peak RSS.
declare -A secs rss
run() {
	local name=$1
	shift
	log "$name: $*"
	/usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
		cat "$work/$name.err" >&2
		exit 1
	}
	secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/$name.time")
	rss[$name]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
	psql -d postgres -Atc "CHECKPOINT" >/dev/null
}

run pg_dump "$bindir/pg_dump" -Fc -f "$work/bench.dump" bench
run dk_backup "$work/benchcmd" backup -url "$url" -db bench -o "$work/bench.dkb"

# signature DB: row counts and a content hash of the generated tables.
signature() {
	psql -d "$1" -Atc "SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM docs), (SELECT count(*) FROM events), (SELECT md5(string_agg(body, '' ORDER BY id)) FROM docs WHERE id % 1000 = 0), (SELECT sum(abalance) FROM pgbench_accounts)"
}
want=$(signature bench)
# restored NAME DB: checks DB against the source, then drops it, so no
# restore runs beside autovacuum working through an earlier one.
restored() {
	local got
	got=$(signature "$2")
	[[ $got == "$want" ]] || { echo "$1: restored rows differ from the source ($got, want $want)" >&2; exit 1; }
	psql -d postgres -c "DROP DATABASE $2" -c "CHECKPOINT"
}
# Restores run ROUNDS times, the tools taking turns; the fastest run of
# each counts (the host is a VM whose neighbours come and go).
rounds=${ROUNDS:-3}
for r in $(seq 1 "$rounds"); do
	psql -d postgres -c "CREATE DATABASE restored_pgr OWNER benchapp"
	run pg_restore$r "$bindir/pg_restore" --no-owner --role=benchapp -d restored_pgr "$work/bench.dump"
	restored pg_restore restored_pgr
	psql -d postgres -c "CREATE DATABASE restored_pgr2 OWNER benchapp"
	run pg_restore_j2$r "$bindir/pg_restore" -j 2 --no-owner --role=benchapp -d restored_pgr2 "$work/bench.dump"
	restored "pg_restore -j 2" restored_pgr2
	run dk_restore$r "$work/benchcmd" restore -v -url "$url" -db restored_dk -owner benchapp -i "$work/bench.dkb"
	restored "deploykit restore" restored_dk
done
best() { # best NAME: the smallest secs[NAMEr] (and its rss) into secs[NAME]
	local r
	for r in $(seq 1 "$rounds"); do
		if [[ -z ${secs[$1]:-} ]] || awk -v a="${secs[$1$r]}" -v b="${secs[$1]}" 'BEGIN { exit !(a < b) }'; then
			secs[$1]=${secs[$1$r]}
			rss[$1]=${rss[$1$r]}
			[[ $1 != dk_restore ]] || cp "$work/dk_restore$r.err" "$work/dk_restore.err"
		fi
	done
}
best pg_restore
best pg_restore_j2
best dk_restore
# median NAME: the median of the rounds' seconds (the upper one of an even
# count), printed beside the fastest so one lucky run cannot make a ratio.
median() {
	local r
	for r in $(seq 1 "$rounds"); do echo "${secs[$1$r]}"; done | sort -g | awk '{v[NR] = $1} END {print v[int(NR / 2) + 1]}'
}
rounds_of() {
	local r out=""
	for r in $(seq 1 "$rounds"); do out+=" ${secs[$1$r]}"; done
	echo "$out"
}
run dk_restore_precheck "$work/benchcmd" restore -precheck -url "$url" -db restored_dk2 -owner benchapp -i "$work/bench.dkb"
restored "deploykit restore -precheck" restored_dk2
run dk_check "$work/benchcmd" check -i "$work/bench.dkb"

dump_size=$(stat -c %s "$work/bench.dump")
dkb_size=$(stat -c %s "$work/bench.dkb")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

printf '\ndeploykit backup benchmark: %s MiB database (pgbench scale %s + %s docs + 1.5M events), %s CPUs, PostgreSQL %s\n' \
	"$((dbsize / 1024 / 1024))" "$scale" "$docrows" "$(nproc)" "$("$bindir/postgres" --version | awk '{print $3}')"
printf "%-28s %9s %11s %12s   (restores: fastest of %s rounds)\n" "step" "seconds" "peak RSS" "size" "$rounds"
printf '%-28s %9s %8s MiB %8s MiB\n' \
	"pg_dump -Fc" "${secs[pg_dump]}" "$((rss[pg_dump] / 1024))" "$((dump_size / 1024 / 1024))" \
	"deploykit backup" "${secs[dk_backup]}" "$((rss[dk_backup] / 1024))" "$((dkb_size / 1024 / 1024))"
printf '%-28s %9s %8s MiB\n' \
	"pg_restore (1 job)" "${secs[pg_restore]}" "$((rss[pg_restore] / 1024))" \
	"pg_restore -j 2" "${secs[pg_restore_j2]}" "$((rss[pg_restore_j2] / 1024))" \
	"deploykit restore" "${secs[dk_restore]}" "$((rss[dk_restore] / 1024))" \
	"deploykit restore -precheck" "${secs[dk_restore_precheck]}" "$((rss[dk_restore_precheck] / 1024))" \
	"deploykit check" "${secs[dk_check]}" "$((rss[dk_check] / 1024))"
echo "(-precheck reads the whole archive once to verify it, then restores: RestoreFile)"
echo "(every restore here creates a new database; replacing an existing one adds DROP DATABASE,"
echo " which forces a checkpoint, as dropdb before pg_restore would)"
printf 'restore rounds, seconds:   pg_restore%s; pg_restore -j 2%s; deploykit%s\n' \
	"$(rounds_of pg_restore)" "$(rounds_of pg_restore_j2)" "$(rounds_of dk_restore)"
grep -E 'schema|data-restored|post-data|swap' "$work/dk_restore.err" | sed 's/^/  deploykit restore phase: /'
echo
echo "backup speed-up vs pg_dump -Fc:             $(ratio "${secs[pg_dump]}" "${secs[dk_backup]}")x (goal >= 1.5)"
echo "restore speed-up vs pg_restore:             $(ratio "${secs[pg_restore]}" "${secs[dk_restore]}")x (goal >= 1.5; median of rounds: $(ratio "$(median pg_restore)" "$(median dk_restore)")x)"
echo "restore speed-up vs pg_restore -j 2:        $(ratio "${secs[pg_restore_j2]}" "${secs[dk_restore]}")x"
echo "restore (with precheck) vs pg_restore:      $(ratio "${secs[pg_restore]}" "${secs[dk_restore_precheck]}")x"
echo "archive size / pg_dump -Fc size:            $(ratio "$dkb_size" "$dump_size") (goal <= 1.10)"
echo "peak RSS backup / restore:                  $((rss[dk_backup] / 1024)) / $((rss[dk_restore] / 1024)) MiB (goal < 256)"
