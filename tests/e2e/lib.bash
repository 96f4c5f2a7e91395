# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the e2e suite (real ublk devices; runs as root inside
# the test VM, or on any host with /dev/ublk-control).
#
# Each .bats file does:   load lib
# and gets: $UBLKCTL (the binary), per-test device tracking, a kernel-log
# check after every test, and helpers below. Tests create devices only
# through `e2e_add` so teardown deletes exactly what the test made.

# shellcheck source=../assert.bash
source "${BASH_SOURCE[0]%/*}/../assert.bash"

UBLKCTL=${UBLKCTL:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build/ublkctl}
export UBLKCTL
# Every test is bounded (bats >= 1.7 honours this).
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-300}
export UBLKCTL_RUN_DIR=${UBLKCTL_RUN_DIR:-/run/ublkctl}

E2E_SPLAT='WARNING:|BUG:|Oops|KASAN:|UBSAN:|circular locking|recursive locking|inconsistent lock state|suspicious RCU|general protection fault|blocked for more than'

setup() {
	[ -e /dev/ublk-control ] || {
		echo "no /dev/ublk-control: run the e2e suite in the VM" >&2
		return 1
	}
	E2E_IDS=()
	E2E_MARK="ublkctl-e2e: begin $$ $BATS_TEST_NUMBER"
	echo "$E2E_MARK" > /dev/kmsg 2>/dev/null || true
	e2e_setup_extra 2>/dev/null || true
}

teardown() {
	local id
	e2e_teardown_extra 2>/dev/null || true
	for id in "${E2E_IDS[@]}"; do
		if [ -e "/sys/class/ublk-char/ublkc$id" ]; then
			# A failed test may leave it open: then --force.
			timeout 30 "$UBLKCTL" del -n "$id" >/dev/null 2>&1 ||
				timeout 30 "$UBLKCTL" del -n "$id" --force >/dev/null 2>&1 ||
				echo "teardown: del -n $id failed" >&2
		fi
	done
	e2e_check_dmesg
}

# Whether the kernel logged a line matching ERE $1 since this test began.
e2e_kmsg_has() {
	dmesg 2>/dev/null | sed -n "/$E2E_MARK\$/,\$p" | grep -qE "$1"
}

# Fail the test if the kernel logged a splat since this test began.
e2e_check_dmesg() {
	local log
	log=$(dmesg 2>/dev/null | sed -n "/$E2E_MARK\$/,\$p")
	if grep -qE "$E2E_SPLAT" <<<"$log"; then
		echo "kernel splat during this test:" >&2
		grep -E -A 20 "$E2E_SPLAT" <<<"$log" | head -n 60 >&2
		return 1
	fi
}

# e2e_add ARGS...: `ublkctl add ARGS` under a timeout; on success sets
# $DEV_ID and records it for teardown. Output in $output, status in $status.
e2e_add() {
	run timeout 120 "$UBLKCTL" add "$@"
	if [ "$status" -eq 0 ]; then
		DEV_ID=$("$UBLKCTL" list -J | jq -r '[.ublkdevices[].id] | max')
		# add prints the new device; prefer the id it printed.
		local printed
		printed=$(awk 'NR == 2 { print $1 }' <<<"$output")
		[[ "$printed" =~ ^[0-9]+$ ]] && DEV_ID=$printed
		E2E_IDS+=("$DEV_ID")
	fi
}

# A sparse backing file of SIZE (default 256M) under the test's tmpdir.
e2e_backing() {
	local f=$BATS_TEST_TMPDIR/${2:-disk}.img
	truncate -s "${1:-256M}" "$f"
	echo "$f"
}

# fio write + crc32c verify on /dev/ublkbN: e2e_fio_verify ID [extra fio args]
e2e_fio_verify() {
	local id=$1; shift
	run timeout 240 fio --name=verify --filename="/dev/ublkb$id" \
		--ioengine=io_uring --direct=1 --rw=randwrite --bs=4k \
		--iodepth=16 --size=32M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --output-format=terse "$@"
}

# Wait (bounded) until a condition command succeeds: e2e_wait SEC CMD...
e2e_wait() {
	local t=$1; shift
	local end=$((SECONDS + t))
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}
