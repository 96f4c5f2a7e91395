#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# loop target data integrity in each copy mode (per-I/O commands) and in
# the mode add picks by default.

load srv

@test "loop: fio crc32c verify, copy mode" {
	loop_verify --copy
}

@test "loop: fio crc32c verify, the default (fastest) mode" {
	loop_verify
}

@test "loop: fio crc32c verify, --user-copy" {
	loop_verify --user-copy
}

@test "loop: fio crc32c verify, --zero-copy" {
	loop_verify --zero-copy
}

@test "loop: fio crc32c verify, --buffered with 2 queues" {
	loop_verify --buffered -q 2
}

@test "loop: fio crc32c verify, 4 threads on 1 queue (per-I/O daemons)" {
	loop_verify --copy --nthreads 4
}

@test "loop: fio crc32c verify, 1 thread on 4 queues (per-I/O)" {
	[ "$(nproc)" -ge 4 ] || skip "needs 4 CPUs for 4 queues (UBLKCTL_VM_CPUS=4)"
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" --copy -q 4 --nthreads 1
	[ "$status" -eq 0 ]
	[ "$(srv_field "$DEV_ID" queues)" = 4 ]
	e2e_fio_verify "$DEV_ID" --numjobs=4 --offset_increment=8M --size=8M
	[ "$status" -eq 0 ]
}

@test "loop: mkfs.ext4, mount, write, umount, fsck clean" {
	f=$(e2e_backing 128M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	mkfs_cycle "$DEV_ID"
}

@test "loop: zeroout and discard on a tmpfs file read back zeroes, the kernel logs no error" {
	local f
	f=$(e2e_backing 16M)
	[ "$(stat -f -c %T "$f")" = tmpfs ]
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	dev=/dev/ublkb$DEV_ID
	# data everywhere, then zero (BLKZEROOUT: WRITE_ZEROES with NOUNMAP,
	# which tmpfs has no ZERO_RANGE for) and discard a part each
	dd if=/dev/urandom of="$dev" bs=1M count=16 oflag=direct status=none
	blkdiscard -z -o 1M -l 2M "$dev"
	blkdiscard -o 8M -l 2M "$dev"
	cmp -n 2M "$dev" /dev/zero --ignore-initial=1M:0
	cmp -n 2M "$dev" /dev/zero --ignore-initial=8M:0
	# around them the data stayed
	! cmp -s -n 1M "$dev" /dev/zero
	! cmp -s -n 1M "$dev" /dev/zero --ignore-initial=4M:0
	! dmesg | sed -n "/$E2E_MARK\$/,\$p" | grep -E "operation not supported|I/O error"
}
