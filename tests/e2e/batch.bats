#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# --batch (UBLK_F_BATCH_IO): data integrity in every copy mode, any number
# of threads against any number of queues, a file system on top.

load srv

@test "batch: the kernel grants BATCH_IO" {
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" --batch
	[ "$status" -eq 0 ]
	srv_has_flag "$DEV_ID" BATCH_IO
}

@test "batch: fio crc32c verify, copy mode" {
	loop_verify --batch
}

@test "batch: fio crc32c verify, --auto-zc" {
	loop_verify --batch --auto-zc
}

@test "batch: fio crc32c verify, --user-copy" {
	loop_verify --batch --user-copy
}

@test "batch: fio crc32c verify, --zero-copy" {
	loop_verify --batch --zero-copy
}

@test "batch: fio crc32c verify, 4 threads on 1 queue" {
	loop_verify --batch -q 1 --nthreads 4
}

@test "batch: fio crc32c verify, 4 threads on 1 queue with --auto-zc" {
	loop_verify --batch --auto-zc -q 1 --nthreads 4
}

@test "batch: fio crc32c verify, 1 thread on 4 queues" {
	[ "$(nproc)" -ge 4 ] || skip "needs 4 CPUs for 4 queues (UBLKCTL_VM_CPUS=4)"
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" --batch -q 4 --nthreads 1
	[ "$status" -eq 0 ]
	[ "$(srv_field "$DEV_ID" queues)" = 4 ]
	# main thread + one server thread (io_uring workers are iou-*)
	pid=$(srv_pid "$DEV_ID")
	[ "$(cat /proc/"$pid"/task/*/comm | grep -vc '^iou-')" = 2 ]
	e2e_fio_verify "$DEV_ID" --numjobs=4 --offset_increment=8M --size=8M
	[ "$status" -eq 0 ]
}

@test "batch: mkfs.ext4 + mount + write + fsck on --batch --auto-zc" {
	f=$(e2e_backing 128M)
	e2e_add -t loop -f "$f" --batch --auto-zc
	[ "$status" -eq 0 ]
	mkfs_cycle "$DEV_ID"
}

@test "batch: null target, 2 queues, reads complete" {
	e2e_add -t null --batch -q 2
	[ "$status" -eq 0 ]
	run dd if="/dev/ublkb$DEV_ID" of=/dev/null bs=64k count=256 iflag=direct
	[ "$status" -eq 0 ]
}

@test "batch: del --force while fio runs returns in under 5 s" {
	f=$(e2e_backing 128M)
	e2e_add -t loop -f "$f" --batch --auto-zc
	[ "$status" -eq 0 ]
	fio --name=load --filename="/dev/ublkb$DEV_ID" --ioengine=io_uring \
		--direct=1 --rw=randrw --bs=4k --iodepth=32 --time_based \
		--runtime=60 >/dev/null 2>&1 &
	fio_pid=$!
	sleep 2
	start=$SECONDS
	# del alone refuses a device in use (del.bats); --force takes it away
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID" --force
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -lt 5 ]
	wait "$fio_pid" || true
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}
