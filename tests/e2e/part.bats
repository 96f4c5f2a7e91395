#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# Partition tables on a ublk device (loop target over a sparse 256M file):
# the scan at START_DEV, a rescan after sfdisk writes a table, data in the
# partitions, and --no-part-scan (UBLK_F_NO_AUTO_PART_SCAN), which skips
# only the scan at start: BLKRRPART later still works.
#
# Partition nodes come from devtmpfs, which the kernel fills itself as it
# adds the partitions: no udev is needed (the plain VM runs none). Where
# udev runs, it is let settle first.

load srv
bats_require_minimum_version 1.5.0

# GPT: p1 and p2 of 100MiB each, at these sectors.
P1_START=2048
P2_START=206848
PART_SECTORS=204800

part_script() {
	printf 'label: gpt\n'
	printf 'start=%s, size=%s, name=one\n' "$P1_START" "$PART_SECTORS"
	printf 'start=%s, size=%s, name=two\n' "$P2_START" "$PART_SECTORS"
}

# part_table TARGET: write the table to TARGET (a file or a device).
part_table() {
	part_script | sfdisk --quiet --no-reread --wipe always "$1" >/dev/null
}

part_settle() {
	if [ -S /run/udev/control ]; then
		udevadm settle --timeout=10 || true
	fi
}

# Whether device $1 has partition $2 in sysfs and as a node in /dev.
part_present() {
	[ -e "/sys/block/ublkb$1/ublkb$1p$2" ] && [ -b "/dev/ublkb$1p$2" ]
}

# Both partitions appear (bounded), with the sizes and starts written.
part_wait_both() {
	local id=$1 n
	part_settle
	e2e_wait 10 part_present "$id" 1
	e2e_wait 10 part_present "$id" 2
	for n in 1 2; do
		[ "$(cat "/sys/block/ublkb$id/ublkb${id}p$n/size")" = "$PART_SECTORS" ]
	done
	[ "$(cat "/sys/block/ublkb$id/ublkb${id}p1/start")" = "$P1_START" ]
	[ "$(cat "/sys/block/ublkb$id/ublkb${id}p2/start")" = "$P2_START" ]
}

@test "part: sfdisk writes a GPT on the device: p1 and p2 appear" {
	f=$(e2e_backing 256M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	[ ! -e "/sys/block/ublkb$DEV_ID/ublkb${DEV_ID}p1" ]
	# sfdisk re-reads the table itself (BLKRRPART) once it is written.
	part_script | sfdisk --quiet --wipe always "/dev/ublkb$DEV_ID"
	part_wait_both "$DEV_ID"
	# The table is in the backing file, where sfdisk reads it back.
	[ "$(sfdisk --json "$f" | jq '.partitiontable.partitions | length')" = 2 ]
}

@test "part: fio crc32c verify on p1 and p2 at once" {
	f=$(e2e_backing 256M)
	part_table "$f"
	e2e_add -t loop -f "$f" -q 2
	[ "$status" -eq 0 ]
	part_wait_both "$DEV_ID"
	run timeout 240 fio --ioengine=io_uring --direct=1 --rw=randwrite \
		--bs=4k --iodepth=16 --size=16M --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --output-format=terse \
		--name=p1 --filename="/dev/ublkb${DEV_ID}p1" \
		--name=p2 --filename="/dev/ublkb${DEV_ID}p2"
	echo "fio: $output" >&2
	[ "$status" -eq 0 ]
	# one terse line per job; field 5 is its error count
	[ "$(grep -c '^3;' <<<"$output")" = 2 ]
	[ "$(grep '^3;' <<<"$output" | cut -d';' -f5 | sort -u)" = 0 ]
}

@test "part: data written to p2 is in the backing file at p2's start" {
	f=$(e2e_backing 256M)
	part_table "$f"
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	part_wait_both "$DEV_ID"
	data=$BATS_TEST_TMPDIR/data
	head -c 1M /dev/urandom >"$data"
	dd if="$data" of="/dev/ublkb${DEV_ID}p2" bs=64k seek=16 oflag=direct \
		conv=fsync status=none
	# 1M into p2, which starts at sector P2_START of the device
	cmp -n 1048576 "$data" <(dd if="$f" bs=512 \
		skip=$((P2_START + 2048)) count=2048 status=none)
	# and not in p1 at the same offset
	run ! cmp -s -n 1048576 "$data" <(dd if="$f" bs=512 \
		skip=$((P1_START + 2048)) count=2048 status=none)
}

@test "part: after del and a fresh add of the same file the partitions come back" {
	f=$(e2e_backing 256M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	part_script | sfdisk --quiet --wipe always "/dev/ublkb$DEV_ID"
	part_wait_both "$DEV_ID"
	head -c 64k /dev/urandom >"$BATS_TEST_TMPDIR/data"
	dd if="$BATS_TEST_TMPDIR/data" of="/dev/ublkb${DEV_ID}p2" bs=64k \
		oflag=direct status=none
	old=$DEV_ID
	run timeout 30 "$UBLKCTL" del -n "$old"
	[ "$status" -eq 0 ]
	e2e_wait 10 test ! -e "/dev/ublkb${old}p1"
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	# The scan at START_DEV finds the table: nothing re-reads it here.
	part_wait_both "$DEV_ID"
	cmp -n 65536 "$BATS_TEST_TMPDIR/data" "/dev/ublkb${DEV_ID}p2"
}

@test "part: --no-part-scan: no partitions after add although the table is there" {
	f=$(e2e_backing 256M)
	part_table "$f"
	e2e_add -t loop -f "$f" --no-part-scan
	[ "$status" -eq 0 ]
	srv_has_flag "$DEV_ID" NO_AUTO_PART_SCAN
	# Saved for recover with the rest of the configuration.
	jq -e '.config["no-part-scan"] == true' "$UBLKCTL_RUN_DIR/$DEV_ID.json"
	# Give a scan (asynchronous at START_DEV) time it would need.
	sleep 2
	part_settle
	[ ! -e "/sys/block/ublkb$DEV_ID/ublkb${DEV_ID}p1" ]
	[ ! -e "/sys/block/ublkb$DEV_ID/ublkb${DEV_ID}p2" ]
	[ ! -e "/dev/ublkb${DEV_ID}p1" ]
	# The table is readable through the device all the same.
	[ "$(sfdisk --json "/dev/ublkb$DEV_ID" | jq '.partitiontable.partitions | length')" = 2 ]
	# and a scan is allowed (only the one at start was skipped)
	[ "$(cat "/sys/block/ublkb$DEV_ID/partscan")" = 1 ]
}

@test "part: --no-part-scan: blockdev --rereadpt then creates p1 and p2" {
	f=$(e2e_backing 256M)
	part_table "$f"
	e2e_add -t loop -f "$f" --no-part-scan
	[ "$status" -eq 0 ]
	sleep 1
	[ ! -e "/sys/block/ublkb$DEV_ID/ublkb${DEV_ID}p1" ]
	run blockdev --rereadpt "/dev/ublkb$DEV_ID"
	echo "rereadpt: $output" >&2
	[ "$status" -eq 0 ]
	part_wait_both "$DEV_ID"
}
