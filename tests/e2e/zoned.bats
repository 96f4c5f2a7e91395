#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# zoned target: the zone layout blkzone reports, zone management, fio's
# zbd mode with crc32c verify, writes off the write pointer, zone append
# (through tests/e2e/zappend, a helper module that issues one
# REQ_OP_ZONE_APPEND: nothing in user space can) and the zone state across
# del + add of the same file.

load srv

# 16 zones of 4M, the first 2 conventional, in 64M: zone k starts at
# sector k * 8192.
ZS=8192

setup_file() {
	# the helper module, built for the kernel that runs
	ZAPPEND_KO=$("$BATS_TEST_DIRNAME/zappend/build" "$BATS_FILE_TMPDIR/zappend")
	export ZAPPEND_KO
}

# zoned_add [ARGS...]: a zoned device on $ZFILE (made 64M of zones).
zoned_add() {
	ZFILE=${ZFILE:-$BATS_TEST_TMPDIR/zoned.img}
	e2e_add -t zoned -f "$ZFILE" --zone-size 4M --size 64M --conv-zones 2 "$@"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	DEV=/dev/ublkb$DEV_ID
}

# zone_field N FIELD: "cond", "wptr" (sectors from the zone's start) or
# "type" of zone N, numbers as blkzone reports them.
zone_field() {
	local r
	r=$(blkzone report -o $(($1 * ZS)) -c 1 "$DEV" |
		sed -nE 's/.*wptr (0x[0-9a-f]+) .*zcond: *([0-9]+)\(.*\[type: ([0-9]+).*/\1 \2 \3/p')
	set -- "$2" $r
	case $1 in
	wptr) echo $(($2)) ;;
	cond) echo "$3" ;;
	type) echo "$4" ;;
	esac
}

# zone_is N COND WPTR: zone N's condition and write pointer.
zone_is() {
	local c w
	c=$(zone_field "$1" cond)
	w=$(zone_field "$1" wptr)
	echo "zone $1: cond $c wptr $w (want $2 $3)" >&2
	[ "$c" = "$2" ] && [ "$w" = "$3" ]
}

# Zone conditions (linux/blkzoned.h).
EMPTY=1 IMP_OPEN=2 EXP_OPEN=3 CLOSED=4 FULL=14

# write_at SECTOR COUNT: COUNT 4K blocks of random data at SECTOR.
write_at() {
	dd if=/dev/urandom of="$DEV" bs=4k count="$2" seek=$(($1 * 512)) \
		oflag=direct,seek_bytes status=none
}

@test "zoned: blkzone report shows 2 conventional and 14 empty sequential zones of 4M" {
	zoned_add
	[ "$(cat "/sys/block/ublkb$DEV_ID/queue/zoned")" = host-managed ]
	[ "$(cat "/sys/block/ublkb$DEV_ID/queue/chunk_sectors")" = $ZS ]
	[ "$(cat "/sys/block/ublkb$DEV_ID/queue/nr_zones")" = 16 ]
	[ "$(srv_mode "$DEV_ID")" = user-copy ]
	run blkzone report "$DEV"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'CONVENTIONAL' <<<"$output")" = 2 ]
	[ "$(grep -c 'SEQ_WRITE_REQUIRED' <<<"$output")" = 14 ]
	[ "$(grep -c 'zcond: 1(em)' <<<"$output")" = 14 ]
	[ "$(grep -c 'len 0x002000' <<<"$output")" = 16 ]
	zone_is 15 $EMPTY 0
}

@test "zoned: open, close, finish, reset and reset-all change the zones" {
	zoned_add
	blkzone open -o $((2 * ZS)) -c 1 "$DEV"
	zone_is 2 $EXP_OPEN 0
	blkzone close -o $((2 * ZS)) -c 1 "$DEV"
	zone_is 2 $EMPTY 0
	write_at $((3 * ZS)) 1
	zone_is 3 $IMP_OPEN 8
	blkzone close -o $((3 * ZS)) -c 1 "$DEV"
	zone_is 3 $CLOSED 8
	blkzone finish -o $((3 * ZS)) -c 1 "$DEV"
	zone_is 3 $FULL $ZS
	blkzone reset -o $((3 * ZS)) -c 1 "$DEV"
	zone_is 3 $EMPTY 0
	write_at $((4 * ZS)) 2
	write_at $((5 * ZS)) 1
	blkzone reset "$DEV"
	zone_is 4 $EMPTY 0
	zone_is 5 $EMPTY 0
	# a conventional zone has no state to change
	refute blkzone reset -o 0 -c 1 "$DEV"
}

@test "zoned: fio zonemode=zbd sequential writes pass crc32c verify" {
	zoned_add
	run timeout 240 fio --name=zbd --filename="$DEV" --direct=1 \
		--zonemode=zbd --ioengine=io_uring --iodepth=8 --rw=write \
		--bs=64k --offset=$((2 * 4))M --size=32M --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --output-format=terse
	[ "$status" -eq 0 ]
	zone_is 2 $FULL $ZS
}

@test "zoned: fio zonemode=zbd random writes within --max-open-zones 4 pass crc32c verify" {
	zoned_add --max-open-zones 4 --max-active-zones 6
	[ "$(cat "/sys/block/ublkb$DEV_ID/queue/max_open_zones")" = 4 ]
	[ "$(cat "/sys/block/ublkb$DEV_ID/queue/max_active_zones")" = 6 ]
	run timeout 240 fio --name=zbd --filename="$DEV" --direct=1 \
		--zonemode=zbd --ioengine=io_uring --iodepth=8 --rw=randwrite \
		--bs=16k --offset=8M --size=56M --io_size=8M --max_open_zones=4 \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output-format=terse
	[ "$status" -eq 0 ]
	# four explicitly open zones: a fifth cannot be opened
	blkzone reset "$DEV"
	for z in 10 11 12 13; do
		blkzone open -o $((z * ZS)) -c 1 "$DEV"
	done
	refute blkzone open -o $((14 * ZS)) -c 1 "$DEV"
	zone_is 14 $EMPTY 0
	zone_is 13 $EXP_OPEN 0
}

@test "zoned: a write off the write pointer fails and moves nothing" {
	zoned_add
	write_at $((6 * ZS)) 1
	zone_is 6 $IMP_OPEN 8
	refute write_at $((6 * ZS + 16)) 1
	refute write_at $((6 * ZS)) 1
	zone_is 6 $IMP_OPEN 8
	write_at $((6 * ZS + 8)) 1
	zone_is 6 $IMP_OPEN 16
	# conventional zones take writes anywhere
	write_at 1000 1
}

@test "zoned: zone append writes at the write pointer and returns that LBA" {
	zoned_add
	write_at $((7 * ZS)) 1
	run insmod "$ZAPPEND_KO" dev="$DEV" sector=$((7 * ZS)) sectors=8 fill=0xa5
	echo "$output" >&2
	[ "$status" -eq 0 ]
	lba=$(cat /sys/module/zappend/parameters/result)
	rmmod zappend
	[ "$lba" = $((7 * ZS + 8)) ]
	zone_is 7 $IMP_OPEN 16
	# the data are where the LBA says
	got=$(dd if="$DEV" bs=512 skip="$lba" count=8 iflag=direct status=none |
		od -An -v -tx1 | tr -s ' \n' '\n' | sort -u | grep .)
	[ "$got" = a5 ]
	# the server served a ZONE_APPEND (its count in the zone state header)
	[ "$(od -An -tu8 -j 32 -N 8 "$ZFILE" | tr -d ' ')" = 1 ]
	# an append past the zone's end fails: fill zone 7, append again
	blkzone finish -o $((7 * ZS)) -c 1 "$DEV"
	refute insmod "$ZAPPEND_KO" dev="$DEV" sector=$((7 * ZS))
	[ "$(od -An -tu8 -j 32 -N 8 "$ZFILE" | tr -d ' ')" = 1 ]
}

@test "zoned --batch --user-copy: report, fio zbd verify, and zone appends whose LBA comes back in the commit element" {
	zoned_add --batch --user-copy
	[ "$(srv_mode "$DEV_ID")" = batch-user-copy ]
	[ "$(cat "/sys/block/ublkb$DEV_ID/queue/nr_zones")" = 16 ]
	zone_is 2 $EMPTY 0
	run timeout 240 fio --name=zbd --filename="$DEV" --direct=1 \
		--zonemode=zbd --ioengine=io_uring --iodepth=16 --rw=write \
		--bs=64k --offset=8M --size=8M --verify=crc32c \
		--verify_fatal=1 --do_verify=1 --output-format=terse
	[ "$status" -eq 0 ]
	zone_is 2 $FULL $ZS
	zone_is 3 $FULL $ZS
	# two appends to zone 9: each lands at the write pointer it found
	write_at $((9 * ZS)) 1
	for want in $((9 * ZS + 8)) $((9 * ZS + 16)); do
		run insmod "$ZAPPEND_KO" dev="$DEV" sector=$((9 * ZS)) sectors=8 fill=0x3c
		echo "$output" >&2
		[ "$status" -eq 0 ]
		lba=$(cat /sys/module/zappend/parameters/result)
		rmmod zappend
		[ "$lba" = "$want" ]
	done
	zone_is 9 $IMP_OPEN 24
	got=$(dd if="$DEV" bs=512 skip=$((9 * ZS + 8)) count=16 iflag=direct status=none |
		od -An -v -tx1 | tr -s ' \n' '\n' | sort -u | grep .)
	[ "$got" = 3c ]
	[ "$(od -An -tu8 -j 32 -N 8 "$ZFILE" | tr -d ' ')" = 2 ]
}

@test "zoned: the zone state and data survive del and add of the same file" {
	zoned_add
	write_at $((2 * ZS)) 4
	write_at $((3 * ZS)) 2
	blkzone close -o $((3 * ZS)) -c 1 "$DEV"
	blkzone finish -o $((4 * ZS)) -c 1 "$DEV"
	blkzone open -o $((5 * ZS)) -c 1 "$DEV"
	write_at 0 1
	sum=$(dd if="$DEV" bs=1M count=64 iflag=direct status=none | md5sum)
	"$UBLKCTL" del -n "$DEV_ID"
	E2E_IDS=()
	zoned_add
	zone_is 2 $CLOSED 32
	zone_is 3 $CLOSED 16
	zone_is 4 $FULL $ZS
	# opened, nothing written: back empty, as a drive after power loss
	zone_is 5 $EMPTY 0
	[ "$(dd if="$DEV" bs=1M count=64 iflag=direct status=none | md5sum)" = "$sum" ]
	# and it goes on at the write pointer
	write_at $((2 * ZS + 32)) 1
	zone_is 2 $IMP_OPEN 40
}

@test "zoned: another zone size on an existing file is a usage error" {
	zoned_add
	"$UBLKCTL" del -n "$DEV_ID"
	E2E_IDS=()
	run "$UBLKCTL" add -t zoned -f "$ZFILE" --zone-size 8M
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --file: $ZFILE: has zones of 4194304 bytes, 2 conventional (give --zone-size and --conv-zones as when it was made)" ]
	[ -z "$("$UBLKCTL" list -r --noheadings -o ID)" ]
}
