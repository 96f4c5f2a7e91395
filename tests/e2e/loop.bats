#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# loop target data integrity in each copy mode (per-I/O commands).

load srv

@test "loop: fio crc32c verify, copy mode" {
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
	loop_verify --nthreads 4
}

@test "loop: fio crc32c verify, 1 thread on 4 queues (per-I/O)" {
	[ "$(nproc)" -ge 4 ] || skip "needs 4 CPUs for 4 queues (UBLKCTL_VM_CPUS=4)"
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" -q 4 --nthreads 1
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
