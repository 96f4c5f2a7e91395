#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# --shmem-zc FILE (UBLK_F_SHMEM_ZC): fio's I/O buffers are a shared mapping
# of FILE (--iomem=mmapshared:FILE), the server registered FILE, and the
# driver hands those requests over as buffer index + offset instead of
# copying. The observable: the server's count of such requests, printed at
# the end of each thread with UBLKCTL_DEBUG (a foreground server's
# stderr); crc32c verify checks what was served from there.
# Runs on a driver with SHMEM_ZC (ublk_drv 7.1+, our module); features.bats
# checks that a driver without it refuses --shmem-zc.

load srv

SHM_ID=40

e2e_setup_extra() {
	SHM=/dev/shm/ublkctl-e2e-$$-$BATS_TEST_NUMBER
}

e2e_teardown_extra() {
	if [ -n "$SHM_PID" ] && proc_alive "$SHM_PID"; then
		kill -TERM "$SHM_PID"
		wait "$SHM_PID"
	fi
	rm -f "$SHM"
	if mountpoint -q "$BATS_TEST_TMPDIR/huge"; then
		umount "$BATS_TEST_TMPDIR/huge"
		echo 0 >/proc/sys/vm/nr_hugepages
	fi
}

has_shmem_zc() {
	"$UBLKCTL" features -r --noheadings -o NAME | grep -qx SHMEM_ZC
}

need_shmem_zc() {
	has_shmem_zc || skip "the driver lacks SHMEM_ZC (features.bats checks the refusal)"
}

# No device and no state file: what a refused add leaves.
nothing_left() {
	[ -z "$(ls /sys/class/ublk-char 2>/dev/null)" ] &&
		[ -z "$(ls "$UBLKCTL_RUN_DIR" 2>/dev/null)" ]
}

# shm_serve ARGS...: a loop device (id $SHM_ID) over a fresh sparse 64M
# file with ARGS, served in the foreground with debug output to $SHM_LOG.
shm_serve() {
	local f
	f=$(e2e_backing 64M)
	SHM_LOG=$BATS_TEST_TMPDIR/server.log
	UBLKCTL_DEBUG=1 "$UBLKCTL" add -t loop -f "$f" -n "$SHM_ID" \
		--foreground "$@" >"$SHM_LOG" 2>&1 &
	SHM_PID=$!
	E2E_IDS+=("$SHM_ID")
	DEV_ID=$SHM_ID
	e2e_wait 30 test -f "$UBLKCTL_RUN_DIR/$SHM_ID.json" || {
		cat "$SHM_LOG" >&2
		return 1
	}
	[ "$(srv_state "$SHM_ID")" = live ]
}

# shm_stop: SIGTERM the foreground server; SHM_COUNT = the requests it
# served from shared memory (the sum over its threads).
shm_stop() {
	kill -TERM "$SHM_PID"
	wait "$SHM_PID"
	SHM_PID=
	grep -v 'debug: ctrl' "$SHM_LOG" >&2
	SHM_COUNT=$(sed -n 's/.*: \([0-9]*\) requests served from shared memory$/\1/p' \
		"$SHM_LOG" | awk '{ n += $1 } END { print n + 0 }')
	grep -q 'requests served from shared memory' "$SHM_LOG"
}

# shm_fio IOMEM [fio args]: 8M of 4k random writes with crc32c verify
# (2048 writes, 2048 reads), buffers from IOMEM; clean or fail.
shm_fio() {
	local mem=$1; shift
	e2e_fio_verify "$DEV_ID" --size=8M --iomem="$mem" "$@"
	echo "fio: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(cut -d';' -f5 <<<"${lines[0]}")" = 0 ]
}

@test "shmem: a missing, empty, unaligned or non-regular FILE is refused before anything is made" {
	run "$UBLKCTL" add -t null --shmem-zc "$SHM"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: --shmem-zc: $SHM: No such file or directory" ]
	: >"$SHM"
	run "$UBLKCTL" add -t null --shmem-zc "$SHM"
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --shmem-zc: $SHM: size 0: not 1 byte to 4G" ]
	truncate -s 12345 "$SHM"
	run "$UBLKCTL" add -t null --shmem-zc "$SHM"
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --shmem-zc: $SHM: size 12345: not a multiple of its page size (4096)" ]
	run "$UBLKCTL" add -t null --shmem-zc /dev/shm
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --shmem-zc: /dev/shm: is a directory" ]
	run "$UBLKCTL" add -t null --shmem-zc /dev/null
	[ "$status" -eq 2 ]
	[[ "${lines[0]}" == *"/dev/null: not a regular file"* ]]
	run "$UBLKCTL" add -t null --shmem-ro
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --shmem-ro needs --shmem-zc" ]
	nothing_left
}

@test "shmem: copy mode serves fio's shared-memory buffers in place, verify clean; malloc'd buffers are copied" {
	need_shmem_zc
	truncate -s 64M "$SHM"
	shm_serve --copy --shmem-zc "$SHM"
	shm_fio malloc
	shm_stop
	[ "$SHM_COUNT" -eq 0 ]
	# SIGTERM deleted the device: the same id again
	shm_serve --copy --shmem-zc "$SHM"
	shm_fio "mmapshared:$SHM"
	shm_stop
	# every request has its one buffer in FILE (a merged one would not)
	[ "$SHM_COUNT" -ge 3600 ] && [ "$SHM_COUNT" -le 4096 ]
}

@test "shmem: the default mode, --zero-copy and --user-copy serve shared memory in place too" {
	need_shmem_zc
	local mode
	truncate -s 64M "$SHM"
	for mode in "" --zero-copy --user-copy; do
		shm_serve $mode --shmem-zc "$SHM"
		echo "mode ${mode:-default}: $(srv_mode "$SHM_ID")" >&2
		shm_fio "mmapshared:$SHM"
		shm_stop
		[ "$SHM_COUNT" -ge 3600 ]
	done
}

@test "shmem: --shmem-ro serves writes from the read-only mapping, reads take the copy path" {
	need_shmem_zc
	truncate -s 64M "$SHM"
	shm_serve --copy --shmem-zc "$SHM" --shmem-ro
	# the server's own mapping of FILE is read-only and shared
	grep -E " r--s .* $SHM\$" "/proc/$SHM_PID/maps"
	shm_fio "mmapshared:$SHM"
	shm_stop
	# the 2048 writes, never the verify reads
	[ "$SHM_COUNT" -ge 1800 ] && [ "$SHM_COUNT" -le 2048 ]
}

@test "shmem: a memfd named /proc/PID/fd/N serves in place, saved unresolved" {
	need_shmem_zc
	local holder fd
	# a process holding a 64M memfd, printing its fd
	python3 -c 'import os, sys, time
fd = os.memfd_create("ublkctl-e2e")
os.ftruncate(fd, 64 << 20)
print(fd, flush=True)
time.sleep(300)' >"$BATS_TEST_TMPDIR/memfd" &
	holder=$!
	e2e_wait 10 test -s "$BATS_TEST_TMPDIR/memfd"
	fd=$(cat "$BATS_TEST_TMPDIR/memfd")
	shm_serve --copy --shmem-zc "/proc/$holder/fd/$fd"
	jq -e --arg f "/proc/$holder/fd/$fd" '.config["shmem-zc"] == $f' \
		"$UBLKCTL_RUN_DIR/$SHM_ID.json"
	shm_fio "mmapshared:/proc/$holder/fd/$fd"
	shm_stop
	kill "$holder"
	[ "$SHM_COUNT" -ge 3600 ]
}

@test "shmem: a hugetlbfs FILE serves in place" {
	need_shmem_zc
	local huge=$BATS_TEST_TMPDIR/huge
	echo 32 >/proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge 16 ]
	mkdir -p "$huge"
	mount -t hugetlbfs none "$huge"
	truncate -s 32M "$huge/buf"
	shm_serve --copy --shmem-zc "$huge/buf"
	shm_fio "mmaphuge:$huge/buf"
	shm_stop
	[ "$SHM_COUNT" -ge 3600 ]
}

@test "shmem: kill -9 and recover keep serving shared memory in place, verify clean" {
	need_shmem_zc
	local f rc=0 fio_pid
	truncate -s 64M "$SHM"
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" --copy --recovery=reissue --shmem-zc "$SHM" --shmem-ro
	[ "$status" -eq 0 ]
	# recover takes FILE and the read-only flag from the state file
	jq -e --arg f "$SHM" '.config["shmem-zc"] == $f and .config["shmem-ro"] == true' \
		"$UBLKCTL_RUN_DIR/$DEV_ID.json"
	timeout 240 fio --name=verify --filename="/dev/ublkb$DEV_ID" \
		--ioengine=io_uring --direct=1 --rw=randwrite --bs=4k \
		--iodepth=16 --size=16M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --output-format=terse --iomem="mmapshared:$SHM" \
		>"$BATS_TEST_TMPDIR/fio.out" 2>&1 &
	fio_pid=$!
	sleep 2
	kill_recover "$DEV_ID"
	grep -E " r--s .* $SHM\$" "/proc/$(srv_pid "$DEV_ID")/maps"
	wait "$fio_pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/fio.out" >&2
	[ "$rc" -eq 0 ]
	[ "$(head -n1 "$BATS_TEST_TMPDIR/fio.out" | cut -d';' -f5)" = 0 ]
	# and again, whole, under the recovered server
	shm_fio "mmapshared:$SHM"
}
