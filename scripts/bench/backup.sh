#!/usr/bin/env bash
# scripts/bench/backup.sh [--mode user|cluster] [SCALE] [DOC_ROWS]
#
# Times deploykit's backup and restore against pg_dump -Fc and pg_restore
# on the same generated database, the tools taking turns (A/B/B/A) for
# ROUNDS rounds (default 3); prints every round, the ratio of the medians
# and of the fastest runs, archive sizes and peak RSS.
#
# Data: pgbench -i -s SCALE (default 70: pgbench_accounts is ~900 MB) plus a
# text-heavy table of DOC_ROWS rows (default 600000, ~500 MB of prose-like
# text) and a 1.5M-row jsonb event table: about 1.7 GB on disk.
#
# --mode user (the default; the README's backup rows): as users run it.
#   A deploykit root on this machine's disk (under /var/tmp) with its
#   embedded default cluster (ROOT/postgres, with the settings
#   internal/pgcluster gives it), three instances made with `deploykit
#   create` from a small spec with a [database]: the source, a target for
#   deploykit and a target for pg_restore. The tools run as processes:
#     backup:  `deploykit backup SRC`  vs  pg_dump -Fc as SRC's role
#     restore: `deploykit restore DST ARCHIVE --force` (the archive's head
#              checked first, the rest verified as it loads)  vs  pg_restore
#              --no-owner into the third instance's database as its role
#   Each restore starts from an empty target database (made as deploykit
#   provisions it, untimed), is checked against the source (row counts, a
#   content hash, sum(abalance)) and then emptied again, so no run shares
#   the cluster with autovacuum working through an earlier one.
#   The two tools leave different bills behind. At wal_level = minimal
#   deploykit loads each table in the transaction that emptied it, so its
#   rows skip the WAL and are fsynced at commit, inside its time (and its
#   swap DROPs the old database, which in PostgreSQL 15 forces an immediate
#   checkpoint, also inside its time); pg_restore writes every row to the
#   WAL and leaves the table pages dirty in shared_buffers (3 GB here holds
#   the whole database) for a later checkpoint to write and fsync, outside
#   its time. So every restore is followed by a CHECKPOINT, timed on its
#   own (column +CHECKPOINT), and the summary gives the ratio on the
#   restore alone and on restore + CHECKPOINT: the time until the restored
#   data is on disk. (Not counted for either: pg_restore's tables are not
#   frozen, so autovacuum later reads and rewrites them to set hint and
#   all-visible bits; deploykit's COPY FREEZE did that while loading.) Beside
#   the time: the client's CPU (user+sys), the server's CPU (the
#   postmaster's processes) and the WAL written (pg_current_wal_lsn), which
#   load on the machine does not change. The generated data is cached as a
#   dump in BENCH_CACHE (default /var/tmp/dk-bench-cache) and loaded from
#   there next time. WITH_J2=1 adds pg_restore -j 2. Needs root.
#
# --mode cluster: the earlier bench, kept for comparison. Both tools run as
#   the postgres superuser on a throwaway cluster this script starts, tuned
#   for the bench (shared_buffers 256MB, max_wal_size 8GB,
#   checkpoint_timeout 30min), deploykit through backup/internal/benchcmd
#   (the library, no CLI), restoring into new databases.
#
# Needs Go, PostgreSQL server + contrib (pgbench), /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=user
case ${1:-} in
--mode) mode=$2; shift 2 ;;
--mode=*) mode=${1#--mode=}; shift ;;
esac
scale=${1:-70}
docrows=${2:-600000}
rounds=${ROUNDS:-3}

bindir=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[[ -x $bindir/initdb ]] || { echo "PostgreSQL server binaries not found (set PGBIN)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }

log() { printf '== %s\n' "$*" >&2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# median V...: the median (the upper one of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int(NR / 2) + 1]}'; }
least() { printf '%s\n' "$@" | sort -g | head -1; }

# gen_sql DOC_ROWS: the text-heavy and jsonb tables beside pgbench's.
gen_sql() {
	local docrows=$1
	cat <<EOF
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
}

cluster_mode() {
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
	cat >>"$pgdata/postgresql.conf" <<-EOF
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
	gen_sql "$docrows" | psql -d bench
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
}

user_mode() {
	[[ $(id -u) == 0 ]] || { echo "backup.sh --mode user: needs root (deploykit makes a Unix user per instance)" >&2; exit 1; }
	work=$(mktemp -d /var/tmp/dk-bench-backup.XXXXXX)
	chmod 755 "$work"
	cache=${BENCH_CACHE:-/var/tmp/dk-bench-cache}
	mkdir -p "$cache"
	chmod 755 "$cache"
	root=$work/root
	sfx=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
	src=bsrc$sfx dkt=bdk$sfx pgt=bpg$sfx
	dk() { "$work/deploykit" --root "$root" "$@"; }
	cleanup() {
		set +e
		for n in "$src" "$dkt" "$pgt"; do dk remove "$n" --yes --delete-backups >/dev/null 2>&1; done
		dk shutdown >/dev/null 2>&1
		rm -rf "$work"
	}
	trap cleanup EXIT

	log "building the deploykit CLI"
	go build -o "$work/deploykit" ./examples/deploykit
	mkdir "$work/app"
	cat >"$work/app/app.toml" <<EOF
name = "backupbench"
python = ">=3"
packages = []
[database]
EOF
	for n in "$src" "$dkt" "$pgt"; do
		log "deploykit create $n"
		dk create "$n" --spec "$work/app/app.toml" >"$work/create-$n.log" 2>&1 || { cat "$work/create-$n.log" >&2; exit 1; }
	done
	local data=$root/postgres/data sock=$root/postgres/run port
	port=$(awk '/^port = / {print $3}' "$data/deploykit.conf")
	# The admin by peer authentication (root maps to it); each instance's
	# Unix user reaches its own role and database the same way.
	admin() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres "$@"; }
	as() { local n=$1; shift; runuser -u "dk-$n" -- "$@"; }
	rpsql() { local n=$1; shift; as "$n" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -d "dk-$n" "$@"; }

	local dump=$cache/bench-s$scale-d$docrows.dump
	if [[ -s $dump ]]; then
		log "loading the cached data $dump into $src"
		as "$src" "$bindir/pg_restore" --no-owner -j 2 -h "$sock" -p "$port" -d "dk-$src" "$dump"
	else
		log "generating data in $src as its role: pgbench -i -s $scale, $docrows text rows (cached in $dump)"
		as "$src" "$bindir/pgbench" -q -i -s "$scale" -h "$sock" -p "$port" "dk-$src" >/dev/null 2>&1
		gen_sql "$docrows" | rpsql "$src" 2>/dev/null
		as "$src" "$bindir/pg_dump" -Fc -h "$sock" -p "$port" "dk-$src" >"$dump.tmp"
		chmod 644 "$dump.tmp"
		mv "$dump.tmp" "$dump"
	fi
	rpsql "$src" -c "VACUUM ANALYZE" 2>/dev/null
	admin -d postgres -c CHECKPOINT
	local dbsize
	dbsize=$(admin -d postgres -Atc "SELECT pg_database_size('dk-$src')")
	log "database size: $((dbsize / 1024 / 1024)) MiB"

	# reset NAME: the instance's database empty again, as deploykit
	# provisions it (owner, grants, public schema), then a checkpoint.
	reset() {
		local db=dk-$1
		admin -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
			-c "CREATE DATABASE \"$db\" OWNER \"$db\" TEMPLATE template0 ENCODING 'UTF8'" \
			-c "COMMENT ON DATABASE \"$db\" IS 'deploykit instance $1'" \
			-c "REVOKE ALL ON DATABASE \"$db\" FROM PUBLIC" -c "GRANT CONNECT, TEMPORARY ON DATABASE \"$db\" TO \"$db\""
		admin -d "$db" -c "ALTER SCHEMA public OWNER TO \"$db\""
		admin -d postgres -c CHECKPOINT
	}
	signature() {
		rpsql "$1" -Atc "SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM docs), (SELECT count(*) FROM events), (SELECT md5(string_agg(body, '' ORDER BY id)) FROM docs WHERE id % 1000 = 0), (SELECT sum(abalance) FROM pgbench_accounts)"
	}
	local want
	want=$(signature "$src")
	# server CPU in clock ticks: the postmaster, its ended children, its live ones.
	srvcpu() {
		local pm t c
		pm=$(head -1 "$data/postmaster.pid")
		t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
		for c in $(cat "/proc/$pm/task/$pm/children"); do
			t=$((t + $(awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
		done
		echo "$t"
	}
	lsn() { admin -d postgres -Atc "SELECT pg_current_wal_lsn()"; }
	declare -A secs rss ccpu scpu wal ckpt
	# run NAME CMD...: times CMD (wall, client CPU, peak RSS), the server's
	# CPU and the WAL written meanwhile.
	run() {
		local name=$1 c0 w0 c1 w1
		shift
		log "$name: $*"
		c0=$(srvcpu)
		w0=$(lsn)
		/usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>&1 || {
			cat "$work/$name.out" >&2
			exit 1
		}
		# The server reaps the client's backend (and adds its CPU to its
		# own count) a moment after the client exits.
		sleep 1
		c1=$(srvcpu)
		w1=$(lsn)
		secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/$name.time")
		rss[$name]=$(awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' "$work/$name.time")
		ccpu[$name]=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$work/$name.time")
		scpu[$name]=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')
		wal[$name]=$(admin -d postgres -Atc "SELECT round(pg_wal_lsn_diff('$w1', '$w0') / 1048576)")
		# A restore is then followed by a CHECKPOINT, timed on its own: what
		# the restore left in shared_buffers for the server to write and
		# fsync later. (Before the check below, whose reads would set hint
		# bits and dirty pages of their own.)
		if [[ $name == *restore* ]]; then
			local k0 k1
			k0=$(date +%s.%N)
			admin -d postgres -c CHECKPOINT
			k1=$(date +%s.%N)
			ckpt[$name]=$(awk -v a="$k0" -v b="$k1" 'BEGIN {printf "%.2f", b - a}')
		else
			ckpt[$name]=-
		fi
	}
	restored() { # restored NAME: checks NAME's database against the source, then empties it
		local got
		got=$(signature "$1")
		[[ $got == "$want" ]] || { echo "$1: restored rows differ from the source ($got, want $want)" >&2; exit 1; }
		reset "$1"
	}

	mkdir "$work/pg"
	chown "dk-$src" "$work/pg"
	local r first second t
	for r in $(seq 1 "$rounds"); do
		first=dk second=pg
		((r % 2)) || { first=pg second=dk; }
		for t in $first $second; do
			case $t in
			dk) run dk_backup$r "$work/deploykit" --root "$root" backup "$src" -o "$work/bench.dkb" ;;
			pg) run pg_dump$r runuser -u "dk-$src" -- "$bindir/pg_dump" -Fc -h "$sock" -p "$port" -f "$work/pg/bench.dump" "dk-$src" ;;
			esac
		done
	done
	chmod 644 "$work/pg/bench.dump"
	reset "$dkt"
	reset "$pgt"
	local tools=(dk pg)
	[[ -z ${WITH_J2:-} ]] || tools+=(pgj2)
	for r in $(seq 1 "$rounds"); do
		local order=("${tools[@]}")
		((r % 2)) || order=($(printf '%s\n' "${tools[@]}" | tac))
		for t in "${order[@]}"; do
			case $t in
			dk)
				run dk_restore$r "$work/deploykit" --root "$root" restore "$dkt" "$work/bench.dkb" --yes --force
				restored "$dkt"
				;;
			pg)
				run pg_restore$r runuser -u "dk-$pgt" -- "$bindir/pg_restore" --no-owner -h "$sock" -p "$port" -d "dk-$pgt" "$work/pg/bench.dump"
				restored "$pgt"
				;;
			pgj2)
				run pg_restore_j2$r runuser -u "dk-$pgt" -- "$bindir/pg_restore" --no-owner -j 2 -h "$sock" -p "$port" -d "dk-$pgt" "$work/pg/bench.dump"
				restored "$pgt"
				;;
			esac
		done
	done

	col() { local k=$1 r out=(); for r in $(seq 1 "$rounds"); do eval "out+=(\"\${$2[$k$r]}\")"; done; echo "${out[@]}"; }
	local settings
	settings=$(admin -d postgres -Atc "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM unnest(ARRAY['shared_buffers', 'wal_level', 'max_wal_size', 'checkpoint_timeout', 'maintenance_work_mem']) name")
	printf '\ndeploykit backup benchmark, as users run it: %s MiB database (pgbench scale %s + %s docs + 1.5M events), %s CPUs, PostgreSQL %s\n' \
		"$((dbsize / 1024 / 1024))" "$scale" "$docrows" "$(nproc)" "$("$bindir/postgres" --version | awk '{print $3}')"
	echo "embedded cluster ($root/postgres, $(df --output=fstype "$root" | tail -1) on $(df --output=source "$root" | tail -1)): $settings"
	echo "the deploykit CLI vs pg_dump -Fc / pg_restore --no-owner, each as the instance's role; tools alternate A/B/B/A"
	printf '%-16s %5s %9s %11s %11s %8s %8s %11s\n' step round seconds client-CPU server-CPU WAL-MiB RSS-MiB +CHECKPOINT
	local k
	for k in dk_backup pg_dump dk_restore pg_restore ${WITH_J2:+pg_restore_j2}; do
		for r in $(seq 1 "$rounds"); do
			printf '%-16s %5s %9s %11s %11s %8s %8s %11s\n' "$k" "$r" "${secs[$k$r]}" "${ccpu[$k$r]}" "${scpu[$k$r]}" "${wal[$k$r]}" "${rss[$k$r]}" "${ckpt[$k$r]}"
		done
	done
	# secs + ckpt per round, for the "until on disk" ratio.
	for k in dk_restore pg_restore ${WITH_J2:+pg_restore_j2}; do
		for r in $(seq 1 "$rounds"); do
			secs[${k}_disk$r]=$(awk -v a="${secs[$k$r]}" -v b="${ckpt[$k$r]}" 'BEGIN {printf "%.2f", a + b}')
		done
	done
	local dump_size dkb_size
	dump_size=$(stat -c %s "$work/pg/bench.dump")
	dkb_size=$(stat -c %s "$work/bench.dkb")
	summary() { # summary WHAT DK PG
		local dm pm db pb
		dm=$(median $(col "$2" secs)) pm=$(median $(col "$3" secs)) db=$(least $(col "$2" secs)) pb=$(least $(col "$3" secs))
		printf '%-30s deploykit median %6.2f s, best %6.2f s; %s median %6.2f s, best %6.2f s: %sx on the medians, %sx on the best runs\n' \
			"$1" "$dm" "$db" "$3" "$pm" "$pb" "$(ratio "$pm" "$dm")" "$(ratio "$pb" "$db")"
		printf '%-30s CPU-s (client + server, medians): deploykit %s + %s, %s %s + %s; WAL (median): %s MiB vs %s MiB\n' "" \
			"$(median $(col "$2" ccpu))" "$(median $(col "$2" scpu))" "$3" "$(median $(col "$3" ccpu))" "$(median $(col "$3" scpu))" \
			"$(median $(col "$2" wal))" "$(median $(col "$3" wal))"
	}
	summary2() { # summary2 WHAT DK PG: seconds only
		local dm pm
		dm=$(median $(col "$2" secs)) pm=$(median $(col "$3" secs))
		printf '%-30s deploykit median %6.2f s, pg_restore median %6.2f s: %sx on the medians (the time until the restored data is written and fsynced)\n' \
			"$1" "$dm" "$pm" "$(ratio "$pm" "$dm")"
	}
	echo
	summary "backup vs pg_dump -Fc:" dk_backup pg_dump
	summary "restore vs pg_restore:" dk_restore pg_restore
	summary2 "restore + CHECKPOINT:" dk_restore_disk pg_restore_disk
	[[ -z ${WITH_J2:-} ]] || summary "restore vs pg_restore -j 2:" dk_restore pg_restore_j2
	echo "archive size / pg_dump -Fc size:  $(ratio "$dkb_size" "$dump_size") ($((dkb_size / 1048576)) MiB / $((dump_size / 1048576)) MiB)"
	echo "peak RSS, deploykit backup / restore (max of rounds): $(printf '%s\n' $(col dk_backup rss) | sort -g | tail -1) / $(printf '%s\n' $(col dk_restore rss) | sort -g | tail -1) MiB"
}

case $mode in
user) user_mode ;;
cluster) cluster_mode ;;
*) echo "backup.sh: unknown mode $mode (user or cluster)" >&2; exit 2 ;;
esac
