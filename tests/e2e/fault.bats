#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# fault target: --fail-every and --delay-us do what add --help says.

load srv

@test "fault: --fail-every 4 fails every 4th request with EIO" {
	e2e_add -t fault --fail-every 4
	[ "$status" -eq 0 ]
	ok=0 bad=0
	for i in $(seq 0 15); do
		if dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=1 skip=$i \
			iflag=direct status=none 2>/dev/null; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
		fi
	done
	echo "ok=$ok bad=$bad" >&2
	[ "$bad" -ge 2 ]
	[ "$ok" -ge 8 ]
}

@test "fault: --delay-us 200000 delays each request" {
	e2e_add -t fault --delay-us 200000
	[ "$status" -eq 0 ]
	start=$(date +%s%N)
	dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=4k count=5 iflag=direct status=none
	ms=$((($(date +%s%N) - start) / 1000000))
	echo "5 reads took $ms ms" >&2
	[ "$ms" -ge 1000 ]
}

@test "fault: without options it behaves like null" {
	e2e_add -t fault
	[ "$status" -eq 0 ]
	run dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=64k count=64 iflag=direct
	[ "$status" -eq 0 ]
}
