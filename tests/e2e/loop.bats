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
	refute cmp -s -n 1M "$dev" /dev/zero
	refute cmp -s -n 1M "$dev" /dev/zero --ignore-initial=4M:0
	refute e2e_kmsg_has "operation not supported|I/O error"
}

# A memory-backed null_blk (discard=1|0, then more parameters) as the loop
# target's block device; removed in teardown.
nullb_load() {
	[ ! -e /sys/module/null_blk ] || rmmod null_blk
	insmod /run/ublkctl-vm/null_blk.ko nr_devices=1 queue_mode=2 \
		memory_backed=1 gb=1 bs=512 "discard=$1" "${@:2}"
	for _ in $(seq 50); do [ -b /dev/nullb0 ] && return 0; sleep 0.1; done
	return 1
}

e2e_teardown_extra() {
	[ ! -e /sys/module/null_blk ] || {
		local id
		for id in "${E2E_IDS[@]}"; do
			timeout 30 "$UBLKCTL" del -n "$id" --force >/dev/null 2>&1
		done
		rmmod null_blk
	}
}

@test "loop: on a block device that discards, DISCARD is its discard and WRITE_ZEROES zeroes, both read back zeroes" {
	nullb_load 1
	e2e_add -t loop -f /dev/nullb0 -s 16M
	[ "$status" -eq 0 ]
	dev=/dev/ublkb$DEV_ID
	[ "$(cat /sys/block/ublkb$DEV_ID/queue/discard_max_bytes)" -gt 0 ]
	[ "$(cat /sys/block/ublkb$DEV_ID/queue/write_zeroes_max_bytes)" -gt 0 ]
	dd if=/dev/urandom of="$dev" bs=1M count=16 oflag=direct status=none
	blkdiscard -o 1M -l 2M "$dev"
	blkdiscard -z -o 8M -l 2M "$dev"
	# the backing device itself holds zeroes there, the data around them
	cmp -n 2M /dev/nullb0 /dev/zero --ignore-initial=1M:0
	cmp -n 2M /dev/nullb0 /dev/zero --ignore-initial=8M:0
	refute cmp -s -n 1M /dev/nullb0 /dev/zero
	refute cmp -s -n 1M /dev/nullb0 /dev/zero --ignore-initial=4M:0
	refute cmp -s -n 1M /dev/nullb0 /dev/zero --ignore-initial=12M:0
	refute e2e_kmsg_has "operation not supported|I/O error"
}

@test "loop: on a block device without discard, only WRITE_ZEROES is offered; mkfs.ext4 logs no error" {
	nullb_load 0
	e2e_add -t loop -f /dev/nullb0 -s 128M
	[ "$status" -eq 0 ]
	[ "$(cat /sys/block/ublkb$DEV_ID/queue/discard_max_bytes)" = 0 ]
	[ "$(cat /sys/block/ublkb$DEV_ID/queue/write_zeroes_max_bytes)" -gt 0 ]
	dd if=/dev/urandom of=/dev/ublkb$DEV_ID bs=1M count=4 oflag=direct status=none
	blkdiscard -z -o 1M -l 2M /dev/ublkb$DEV_ID
	cmp -n 2M /dev/nullb0 /dev/zero --ignore-initial=1M:0
	mkfs_cycle "$DEV_ID"
	refute e2e_kmsg_has "operation not supported|I/O error"
}

@test "loop: on a block device with fewer tags than the queue, requests wait in the server, not in io_uring workers" {
	local t=/sys/kernel/tracing ev punts
	[ -e $t/events ] || mount -t tracefs nodev $t
	ev=$t/events/io_uring/io_uring_queue_async_work/enable
	nullb_load 0 hw_queue_depth=16
	[ "$(cat /sys/block/nullb0/queue/nr_requests)" = 16 ]
	e2e_add -t loop -f /dev/nullb0 -s 64M -d 128
	[ "$status" -eq 0 ]
	echo > $t/trace
	echo 1 > "$ev"
	e2e_fio_verify "$DEV_ID" --iodepth=64
	echo 0 > "$ev"
	[ "$status" -eq 0 ]
	# a read or write issued past the device's tags fails its
	# non-blocking issue (EAGAIN) and is handed to an io_uring worker:
	# without the bound, about a third of these 16384 I/Os were
	punts=$(grep -c io_uring_queue_async_work $t/trace || true)
	echo "punts: $punts" >&2
	[ "$punts" -lt 164 ]
}
