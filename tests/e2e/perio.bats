#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Per-I/O mode options: --per-io-tasks (PER_IO_DAEMON: the server threads
# share every queue's tags) and --get-data (NEED_GET_DATA: writes ask for
# their buffer first). Which threads served a run is read from the kernel:
# a server thread ("ublk<id>:t<n>") sleeps in io_uring_enter until its own
# ring has a request for it, so its voluntary context switches (and CPU
# ticks) grow only while it serves; an idle thread's stay put.

load srv

# "NAME SWITCHES TICKS" per server thread of device $1, by name.
thread_counts() {
	local pid t comm
	pid=$(srv_pid "$1")
	for t in /proc/"$pid"/task/*; do
		comm=$(cat "$t/comm")
		[[ "$comm" == ublk"$1":t* ]] || continue
		printf '%s %s %s\n' "$comm" \
			"$(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status")" \
			"$(awk '{ print $14 + $15 }' "$t/stat")"
	done | sort
}

# pinned_load ID: 3 s of 4k random reads and writes on /dev/ublkbID from
# CPU 0 only; then "NAME SWITCHES TICKS" per server thread, what each
# gained during the run, in $BATS_TEST_TMPDIR/served.
pinned_load() {
	local before=$BATS_TEST_TMPDIR/before after=$BATS_TEST_TMPDIR/after
	thread_counts "$1" >"$before"
	run timeout 120 taskset -c 0 fio --name=pinned \
		--filename="/dev/ublkb$1" --ioengine=io_uring --direct=1 \
		--rw=randrw --bs=4k --iodepth=16 --size=64M --runtime=3 \
		--time_based --output-format=terse
	echo "fio: $output" >&2
	[ "$status" -eq 0 ]
	thread_counts "$1" >"$after"
	join "$before" "$after" |
		awk '{ print $1, $4 - $2, $5 - $3 }' >"$BATS_TEST_TMPDIR/served"
	cat "$BATS_TEST_TMPDIR/served" >&2
}

# Every one of $1 server threads served: each woke at least 20 times and
# at least a fifth as often as the busiest, and was on a CPU for a tick.
all_served() {
	local served=$BATS_TEST_TMPDIR/served
	[ "$(wc -l <"$served")" -eq "$1" ]
	awk '{ if ($2 > max) max = $2 }
	     END { exit max < 20 }' "$served"
	awk 'NR == FNR { if ($2 > max) max = $2; next }
	     $2 < 20 || $2 * 5 < max || $3 < 1 { bad = 1 }
	     END { exit bad }' "$served" "$served"
}

@test "perio: features names PER_IO_DAEMON and NEED_GET_DATA" {
	run "$UBLKCTL" features -r --noheadings -o BIT,NAME
	[ "$status" -eq 0 ]
	grep -qx '2 NEED_GET_DATA' <<<"$output"
	grep -qx '13 PER_IO_DAEMON' <<<"$output"
}

@test "perio: --per-io-tasks on one queue: with load pinned to one CPU, every thread serves I/O" {
	e2e_add -t null -q 1 --nthreads 2 --per-io-tasks
	[ "$status" -eq 0 ]
	srv_has_flag "$DEV_ID" PER_IO_DAEMON
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o THREADS)" = 2 ]
	pinned_load "$DEV_ID"
	all_served 2
}

@test "perio: --per-io-tasks on two queues: load pinned to one CPU reaches both threads" {
	e2e_add -t null -q 2 --nthreads 2 --per-io-tasks
	[ "$status" -eq 0 ]
	pinned_load "$DEV_ID"
	all_served 2
}

@test "perio: without --per-io-tasks, load pinned to one CPU reaches only its queue's thread" {
	# the observable tells an idle thread from a serving one
	e2e_add -t null -q 2 --nthreads 2 --copy
	[ "$status" -eq 0 ]
	pinned_load "$DEV_ID"
	awk '{ if ($2 > max) max = $2; if (min == "" || $2 < min) min = $2 }
	     END { exit !(max >= 20 && min * 20 <= max) }' \
		"$BATS_TEST_TMPDIR/served"
}

@test "perio: fio crc32c verify, --per-io-tasks, copy, 2 threads on 2 queues" {
	loop_verify --copy --per-io-tasks -q 2 --nthreads 2
}

@test "perio: fio crc32c verify, --per-io-tasks, --auto-zc, 2 threads on 1 queue" {
	loop_verify --auto-zc --per-io-tasks -q 1 --nthreads 2
}

@test "perio: --get-data: the device has NEED_GET_DATA and fio crc32c verifies" {
	loop_verify --get-data
	# loop_verify deleted it: the flag, on a device of its own
	e2e_add -t null --get-data
	[ "$status" -eq 0 ]
	srv_has_flag "$DEV_ID" NEED_GET_DATA
	[ "$(srv_mode "$DEV_ID")" = copy ]
}

@test "perio: fio crc32c verify, --get-data with --per-io-tasks, 2 threads on 1 queue" {
	loop_verify --get-data --per-io-tasks -q 1 --nthreads 2
}

@test "perio: recover rebuilds the shared layout and keeps --get-data" {
	e2e_add -t null -r -q 2 --nthreads 2 --per-io-tasks --get-data
	[ "$status" -eq 0 ]
	kill_recover "$DEV_ID"
	srv_has_flag "$DEV_ID" NEED_GET_DATA
	# two queues: only the shared layout lets CPU 0's load reach both
	pinned_load "$DEV_ID"
	all_served 2
}
