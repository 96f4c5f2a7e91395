#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# add --integrity (UBLK_F_INTEGRITY): the device's integrity profile in
# sysfs, the block layer generating PI on writes and checking it on reads,
# the loop target keeping each block's metadata in --integrity-file, and
# that a metadata block changed behind the device's back fails the read.
# Then PI the application makes and checks itself, passed with each I/O
# (io_uring's PI attribute) by build/ublk-piio (tests/e2e/piio.c), on the
# profile of the upstream kselftest test_integrity_02 (64 bytes of
# metadata, T10-DIF at 56, ref tag, capable), covering what that test
# checks with fio >= 3.42, which Debian 12 lacks (its fio 3.33 skips it): a
# write and verify pass, and a corrupted ref tag, corrupted data and a
# wrong application tag are each caught by name.
# Runs on ublk_drv 7.0+ and on our module (both have INTEGRITY).

load srv

PIIO=${PIIO:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build/ublk-piio}

# int_add SPEC [add args]: a loop device of 64M, 512-byte blocks, over
# $IMG with its metadata in $PI (created by add when absent).
int_add() {
	local spec=$1
	shift
	e2e_add -t loop -f "$IMG" --logical-block-size 512 \
		--integrity "$spec" --integrity-file "$PI" "$@"
	[ "$status" -eq 0 ] || {
		echo "$output" >&2
		return 1
	}
	DEV=/dev/ublkb$DEV_ID
	e2e_wait 10 test -b "$DEV"
}

e2e_setup_extra() {
	IMG=$(e2e_backing 64M)
	PI=$BATS_TEST_TMPDIR/disk.pi
}

# pi_add: int_add with test_integrity_02's profile.
pi_add() {
	int_add md=64,csum=t10dif,pi-off=56,ref,capable
}

# piio MODE [ARGS]: ublk-piio MODE over the first 16M of $DEV (pi_add),
# seed 7, application tag 0x1234 unless ARGS say otherwise.
piio() {
	local mode=$1
	shift
	run timeout 240 "$PIIO" "$mode" "$DEV" --md-size 64 --pi-offset 56 \
		--size 16M --max-bs 128K --seed 7 --app-tag 0x1234 "$@"
}

# pi_tuple BLOCK: block BLOCK's PI tuple (pi_add: bytes 56-63 of its 64)
# in $PI, as hex: guard, application tag, ref tag.
pi_tuple() {
	od -An -tx1 -v -j $(($1 * 64 + 56)) -N 8 "$PI" | tr -d ' \n'
}

# sysattr NAME: /sys/block/ublkbN/integrity/NAME
sysattr() {
	cat "/sys/block/ublkb$DEV_ID/integrity/$1"
}

# md_hex BLOCK LEN: LEN bytes of block BLOCK's metadata (8 bytes a block)
# in $PI, as hex.
md_hex() {
	od -An -tx1 -v -j $(($1 * 8)) -N "$2" "$PI" | tr -d ' \n'
}

# T10-DIF CRC16 (polynomial 0x8bb7, not reflected) of file $1, as 4 hex
# digits: the guard tag the block layer computes.
crc_t10dif() {
	python3 -c '
import sys
crc = 0
for b in open(sys.argv[1], "rb").read():
    crc ^= b << 8
    for _ in range(8):
        crc = ((crc << 1) ^ 0x8bb7) if crc & 0x8000 else crc << 1
        crc &= 0xffff
print("%04x" % crc)' "$1"
}

@test "integrity: the device shows the profile of --integrity" {
	int_add csum=t10dif,ref
	[ "$(sysattr format)" = T10-DIF-TYPE1-CRC ]
	[ "$(sysattr protection_interval_bytes)" = 512 ]
	[ "$(sysattr tag_size)" = 0 ]
	[ "$(sysattr device_is_integrity_capable)" = 0 ]
	[ "$(sysattr write_generate)" = 1 ]
	[ "$(sysattr read_verify)" = 1 ]
	# the metadata file: 64M / 512 blocks x 8 bytes
	[ "$(stat -c %s "$PI")" = $((64 * 2048 * 8)) ]
}

@test "integrity: crc64, ip, tag size and capable reach the profile" {
	int_add md=16,csum=crc64,tag=8
	[ "$(sysattr format)" = EXT-DIF-TYPE3-CRC64 ]
	[ "$(sysattr tag_size)" = 8 ]
	"$UBLKCTL" del -n "$DEV_ID"
	rm -f "$PI"
	int_add md=64,pi-off=56,csum=ip,capable
	[ "$(sysattr format)" = T10-DIF-TYPE3-IP ]
	[ "$(sysattr device_is_integrity_capable)" = 1 ]
	[ "$(stat -c %s "$PI")" = $((64 * 2048 * 64)) ]
	"$UBLKCTL" del -n "$DEV_ID"
	rm -f "$PI"
	int_add md=8
	[ "$(sysattr format)" = nop ]
}

@test "integrity: the device asks for user copy and integrity" {
	int_add csum=t10dif
	srv_has_flag "$DEV_ID" USER_COPY
	srv_has_flag "$DEV_ID" INTEGRITY
}

@test "integrity: recover serves the device with its profile and metadata" {
	int_add csum=t10dif,ref -r --batch
	st=$UBLKCTL_RUN_DIR/$DEV_ID.json
	[ "$(jq -r '.config.integrity' "$st")" = md=8,csum=t10dif,pi-off=0,tag=0,ref ]
	[ "$(jq -r '.config["integrity-file"]' "$st")" = "$(realpath "$PI")" ]
	head -c 1M /dev/urandom >"$BATS_TEST_TMPDIR/data"
	dd if="$BATS_TEST_TMPDIR/data" of="$DEV" bs=1M seek=2 oflag=direct \
		status=none
	kill -9 "$(srv_pid "$DEV_ID")"
	e2e_wait 20 bash -c "[ \"\$(\"$UBLKCTL\" list -J | jq -r '.ublkdevices[] | select(.id == $DEV_ID) | .state')\" = quiesced ]"
	run timeout 60 "$UBLKCTL" recover -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	dd if="$DEV" of="$BATS_TEST_TMPDIR/back" bs=1M skip=2 count=1 \
		iflag=direct status=none
	cmp "$BATS_TEST_TMPDIR/data" "$BATS_TEST_TMPDIR/back"
	e2e_fio_verify "$DEV_ID" --size=8M
	[ "$status" -eq 0 ]
}

@test "integrity: fio crc32c verify with PI generated and checked" {
	int_add csum=t10dif,ref
	e2e_fio_verify "$DEV_ID" --size=16M --bsrange=512-128k
	[ "$status" -eq 0 ] || {
		echo "$output" >&2
		return 1
	}
	# PI of written blocks reached the file: not all 0xff any more
	[ "$(md_hex 0 8)" != ffffffffffffffff ]
}

@test "integrity: never written blocks read back as zeroes" {
	int_add csum=t10dif,ref
	run dd if="$DEV" of="$BATS_TEST_TMPDIR/tail" bs=1M skip=60 count=4 \
		iflag=direct status=none
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/tail" <(head -c 4M /dev/zero)
}

@test "integrity: the metadata file holds each block's T10 PI" {
	int_add csum=t10dif,ref
	head -c 512 /dev/urandom >"$BATS_TEST_TMPDIR/blk"
	dd if="$BATS_TEST_TMPDIR/blk" of="$DEV" bs=512 seek=5 count=1 \
		oflag=direct status=none
	# guard (CRC16 of the block), application tag 0, reference tag 5
	[ "$(md_hex 5 8)" = "$(crc_t10dif "$BATS_TEST_TMPDIR/blk")000000000005" ]
	# the neighbours are untouched
	[ "$(md_hex 4 8)" = ffffffffffffffff ]
	[ "$(md_hex 6 8)" = ffffffffffffffff ]
}

@test "integrity: a corrupted guard in the metadata file fails the read" {
	int_add csum=t10dif,ref
	head -c 4096 /dev/urandom >"$BATS_TEST_TMPDIR/data"
	dd if="$BATS_TEST_TMPDIR/data" of="$DEV" bs=4096 count=1 \
		oflag=direct status=none
	dd if="$DEV" of=/dev/null bs=4096 count=1 iflag=direct status=none
	# flip the guard of block 3 behind the device's back
	printf '\x5a\xa5' | dd of="$PI" bs=1 seek=24 conv=notrunc status=none
	refute dd if="$DEV" of=/dev/null bs=4096 count=1 iflag=direct \
		status=none
	# the blocks beside it still read
	dd if="$DEV" of=/dev/null bs=512 skip=4 count=4 iflag=direct status=none
}

@test "integrity: data and metadata survive del and add" {
	int_add csum=t10dif,ref
	head -c 4M /dev/urandom >"$BATS_TEST_TMPDIR/data"
	dd if="$BATS_TEST_TMPDIR/data" of="$DEV" bs=1M seek=8 oflag=direct \
		status=none
	before=$(md_hex 16384 64)
	"$UBLKCTL" del -n "$DEV_ID"
	int_add csum=t10dif,ref
	[ "$(md_hex 16384 64)" = "$before" ]
	dd if="$DEV" of="$BATS_TEST_TMPDIR/back" bs=1M skip=8 count=4 \
		iflag=direct status=none
	cmp "$BATS_TEST_TMPDIR/data" "$BATS_TEST_TMPDIR/back"
}

@test "integrity: an existing metadata file too small is refused" {
	truncate -s 4096 "$PI"
	run timeout 60 "$UBLKCTL" add -t loop -f "$IMG" --logical-block-size 512 \
		--integrity csum=t10dif --integrity-file "$PI"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: --integrity-file: $PI: 4096 bytes, the device's metadata needs 1048576" ]
	[ -z "$(ls /sys/class/ublk-char 2>/dev/null)" ]
}

@test "integrity: PI of ublk-piio's own goes with its I/O and reads back checked" {
	pi_add
	[ "$(sysattr device_is_integrity_capable)" = 1 ]
	piio write
	[ "$status" -eq 0 ] || {
		echo "$output" >&2
		return 1
	}
	piio verify
	[ "$status" -eq 0 ] || {
		echo "$output" >&2
		return 1
	}
	[ -z "$output" ]
	# the tuples it made reached the file: application tag, ref tag = LBA
	t=$(pi_tuple 5)
	[ "${t:4}" = 123400000005 ]
	t=$(pi_tuple 32767)
	[ "${t:4}" = 123400007fff ]
	# past --size nothing was written
	[ "$(pi_tuple 32768)" = ffffffffffffffff ]
	# and the block layer's own check of plain reads agrees with its PI
	dd if="$DEV" of=/dev/null bs=1M count=16 iflag=direct status=none
}

@test "integrity: a ref tag corrupted in the metadata file fails ublk-piio's verify" {
	pi_add
	piio write
	[ "$status" -eq 0 ]
	# block 0's ref tag: bytes 60-63 of its metadata
	printf '\xde\xad\xbe\xef' |
		dd of="$PI" bs=1 seek=60 conv=notrunc status=none
	piio verify
	[ "$status" -eq 1 ]
	[ "$output" = "ublk-piio: LBA 0: REFTAG: expected 0, got 3735928559" ]
}

@test "integrity: data corrupted in the backing file fails ublk-piio's verify on the guard" {
	pi_add
	piio write
	[ "$status" -eq 0 ]
	# the loop target reads $IMG with O_DIRECT: so does this write
	dd if=/dev/zero of="$IMG" bs=512 count=1 conv=notrunc oflag=direct \
		status=none
	piio verify
	[ "$status" -eq 1 ]
	[[ "$output" =~ ^"ublk-piio: LBA 0: GUARD: expected 0x"[0-9a-f]{4}", got 0x"[0-9a-f]{4}$ ]]
	# the block layer's own check of a plain read fails it as well
	refute dd if="$DEV" of=/dev/null bs=512 count=1 iflag=direct \
		status=none
}

@test "integrity: ublk-piio's verify with another application tag fails on it" {
	pi_add
	piio write
	[ "$status" -eq 0 ]
	piio verify --app-tag 0x4321
	[ "$status" -eq 1 ]
	[[ "$output" =~ ^"ublk-piio: LBA "[0-9]+": APPTAG: expected 0x4321, got 0x1234"$ ]]
}
