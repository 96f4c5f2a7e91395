#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl add / recover without root or kernel: help, usage errors and the
# checks that run before any side effect (option values and combinations,
# loop backing files).

load helpers

@test "add: --help: Usage, Options with -h last, Targets, See line" {
	run "$UBLKCTL" add --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Usage:" ]
	[[ "${lines[1]}" == " ublkctl add -t TARGET"* ]]
	[ "${lines[3]}" = "Options:" ]
	# the generic block ends with -h, right before Targets:
	local i
	for ((i = 4; i < ${#lines[@]}; i++)); do
		[ "${lines[i]}" != "Targets:" ] || break
	done
	[[ "${lines[i - 1]}" == " -h, --help "* ]]
	[ "${lines[${#lines[@]} - 1]}" = "See ublkctl-add(8)." ]
	run bash -c '"$0" add --help 2>&1 >/dev/null' "$UBLKCTL"
	[ -z "$output" ]
}

@test "add: --help lists every target with its options" {
	run "$UBLKCTL" add --help
	[ "$status" -eq 0 ]
	grep -q '^Targets:$' <<<"$output"
	grep -q '^ null ' <<<"$output"
	grep -q '^ loop ' <<<"$output"
	grep -q '^ fault ' <<<"$output"
	grep -q -- '-f, --file PATH' <<<"$output"
	grep -q -- '--delay-us N' <<<"$output"
	grep -q -- '--fail-every N' <<<"$output"
}

@test "add: no target is a usage error" {
	usage_err "ublkctl: add: no target given (-t null|loop|stripe|fault|nbd|zoned)" add
}

@test "add: unknown target" {
	usage_err "ublkctl: add: -t: 'disk': unknown target (null, loop, stripe, fault, nbd, zoned)" add -t disk
}

@test "add: --queues 0" {
	usage_err "ublkctl: add: --queues: '0': out of range (1-4096)" add -t null -q 0
}

@test "add: --depth too large" {
	usage_err "ublkctl: add: --depth: '4097': out of range (1-4096)" add -t null -d 4097
}

@test "add: --nthreads with junk" {
	usage_err "ublkctl: add: --nthreads: '2x': not a number" add -t null --nthreads 2x
}

@test "add: --size with a bad unit" {
	usage_err "ublkctl: add: --size: '1Q': not a size (use bytes or K, M, G, T)" add -t null -s 1Q
}

@test "add: --logical-block-size not a power of 2" {
	usage_err "ublkctl: add: --logical-block-size: '1000': not a power of 2" add -t null --logical-block-size 1000
}

@test "add: --physical-block-size below the logical one" {
	usage_err "ublkctl: add: --physical-block-size 512 is smaller than --logical-block-size 4096" \
		add -t null --logical-block-size 4096 --physical-block-size 512
}

@test "add: --max-io-size not a multiple of 4K" {
	usage_err "ublkctl: add: --max-io-size: '6000': not a multiple of 4K" add -t null --max-io-size 6000
}

@test "add: --recovery with an unknown mode" {
	usage_err "ublkctl: add: --recovery: 'maybe': not requeue, reissue or fail-io" add -t null --recovery=maybe
}

@test "add: --copy with another data path names both" {
	for m in user-copy zero-copy auto-zc; do
		usage_err "ublkctl: add: --copy cannot be combined with --$m" add -t null --copy --$m
	done
}

@test "add: --user-copy with --zero-copy names both" {
	usage_err "ublkctl: add: --user-copy cannot be combined with --zero-copy" add -t null --user-copy --zero-copy
}

@test "add: --user-copy with --auto-zc names both" {
	usage_err "ublkctl: add: --user-copy cannot be combined with --auto-zc" add -t null --user-copy --auto-zc
}

@test "add: --zero-copy with --auto-zc names both" {
	usage_err "ublkctl: add: --zero-copy cannot be combined with --auto-zc" add -t null --zero-copy --auto-zc
}

@test "add: --per-io-tasks with --batch says why, before any side effect" {
	export UBLKCTL_RUN_DIR=$BATS_TEST_TMPDIR/run
	usage_err "ublkctl: add: --per-io-tasks cannot be combined with --batch: batch mode shares queues between threads already" \
		add -t null --per-io-tasks --batch --nthreads 2
	[ ! -e "$UBLKCTL_RUN_DIR" ]
}

@test "add: --get-data with --batch says why" {
	usage_err "ublkctl: add: --get-data cannot be combined with --batch: the driver has no NEED_GET_DATA in batch mode" \
		add -t null --batch --get-data
}

@test "add: --get-data with a data path that copies nothing says why" {
	export UBLKCTL_RUN_DIR=$BATS_TEST_TMPDIR/run
	for m in user-copy zero-copy auto-zc; do
		usage_err "ublkctl: add: --get-data cannot be combined with --$m: the driver copies no data with --$m" \
			add -t null --get-data --$m
	done
	[ ! -e "$UBLKCTL_RUN_DIR" ]
}

@test "add: --help lists --per-io-tasks and --get-data with their flags" {
	run "$UBLKCTL" add --help
	[ "$status" -eq 0 ]
	grep -qE -- '^ +--per-io-tasks +.*UBLK_F_PER_IO_DAEMON' <<<"$output"
	grep -qE -- '^ +--get-data +.*UBLK_F_NEED_GET_DATA' <<<"$output"
}

@test "add: --auto-zc-fallback without --auto-zc" {
	usage_err "ublkctl: add: --auto-zc-fallback needs --auto-zc" add -t null --auto-zc-fallback
}

@test "add: --recover-existing without --id" {
	usage_err "ublkctl: add: --recover-existing needs --id" add -t null --recover-existing
}

@test "add: --unprivileged with --recovery names both" {
	usage_err "ublkctl: add: --unprivileged cannot be combined with --recovery" add -t null --unprivileged -r
}

@test "add: --unprivileged with --auto-zc names both" {
	usage_err "ublkctl: add: --unprivileged cannot be combined with --auto-zc" add -t null --unprivileged --auto-zc
}

@test "add: too many fixed buffers for --auto-zc" {
	usage_err "ublkctl: add: --queues 64 x --depth 4096: more than 16384 buffers for --auto-zc" \
		add -t null --auto-zc -q 64 -d 4096
}

@test "add: --ty loop -f x: abbreviated options, target options in any order" {
	for args in "--ty loop -f /nonexistent/x" "-f /nonexistent/x --type=loop" \
		"--fi=/nonexistent/x -t loop"; do
		run "$UBLKCTL" add $args
		echo "add $args: $output"
		[ "$status" -eq 1 ]
		[ "$output" = "ublkctl: add: --file: /nonexistent/x: No such file or directory" ]
	done
}

@test "add: a loop option on the null target is refused" {
	usage_err "ublkctl: add: unrecognized option '--file'" add -t null --file /x
}

@test "add: a stray argument" {
	usage_err "ublkctl: add: unexpected argument 'extra'" add -t null extra
}

@test "add: loop without -f" {
	usage_err "ublkctl: add: loop needs a backing file (-f PATH)" add -t loop
}

@test "add: loop with a missing backing file fails before any side effect" {
	run "$UBLKCTL" add -t loop -f "$BATS_TEST_TMPDIR/nope.img"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: --file: $BATS_TEST_TMPDIR/nope.img: No such file or directory" ]
}

@test "add: loop on a directory" {
	run "$UBLKCTL" add -t loop --buffered -f "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: --file: $BATS_TEST_TMPDIR: is a directory" ]
}

@test "add: loop with --size larger than the backing file" {
	truncate -s 1M "$BATS_TEST_TMPDIR/small.img"
	run "$UBLKCTL" add -t loop --buffered -f "$BATS_TEST_TMPDIR/small.img" -s 2M
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --size 2097152: larger than $BATS_TEST_TMPDIR/small.img (1048576 bytes usable)" ]
}

@test "add: loop on a file smaller than one block" {
	truncate -s 100 "$BATS_TEST_TMPDIR/tiny.img"
	run "$UBLKCTL" add -t loop --buffered -f "$BATS_TEST_TMPDIR/tiny.img"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: --file: $BATS_TEST_TMPDIR/tiny.img: smaller than one block (512 bytes)" ]
}

@test "add: loop --offset not block aligned" {
	truncate -s 1M "$BATS_TEST_TMPDIR/d.img"
	run "$UBLKCTL" add -t loop --buffered -f "$BATS_TEST_TMPDIR/d.img" --offset 100
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --offset 100: not a multiple of the block size (512)" ]
}

@test "add: stripe with one member" {
	usage_err "ublkctl: add: stripe needs 2 to 4 members (-f PATH for each)" add -t stripe -f /x
	usage_err "ublkctl: add: stripe needs 2 to 4 members (-f PATH for each)" add -t stripe --chunk-size 4K
}

@test "add: stripe with five members" {
	usage_err "ublkctl: add: --file: '/e': more than 4 stripe members" add -t stripe -f /a -f /b --file /c -f /d -f /e
}

@test "add: stripe --chunk-size not a power of 2, out of range, not a size" {
	usage_err "ublkctl: add: --chunk-size: '12K': not a power of 2" add -t stripe -f /a -f /b --chunk-size 12K
	usage_err "ublkctl: add: --chunk-size: '3K': out of range (4096-524288 bytes)" add -t stripe -f /a -f /b --chunk-size 3K
	usage_err "ublkctl: add: --chunk-size: '1M': out of range (4096-524288 bytes)" add -t stripe -f /a -f /b --chunk-size 1M
	usage_err "ublkctl: add: --chunk-size: 'abc': not a number" add -t stripe -f /a -f /b --chunk-size abc
}

@test "add: stripe usage errors come before the backing files are opened" {
	# the members do not exist: a usage error must be reported, not ENOENT
	usage_err "ublkctl: add: --chunk-size: '12K': not a power of 2" add -t stripe -f "$BATS_TEST_TMPDIR/a" -f "$BATS_TEST_TMPDIR/b" --chunk-size 12K
}

@test "add: stripe --size larger than the members hold" {
	truncate -s 1M "$BATS_TEST_TMPDIR/a.img"
	truncate -s 3M "$BATS_TEST_TMPDIR/b.img"
	# 2 x the smaller member: 2M
	usage_err "ublkctl: add: --size 2097664: larger than the stripe (2097152 bytes usable)" \
		add -t stripe --buffered -f "$BATS_TEST_TMPDIR/a.img" -f "$BATS_TEST_TMPDIR/b.img" -s 2097664
}

@test "add: stripe over a member smaller than one chunk" {
	truncate -s 1M "$BATS_TEST_TMPDIR/a.img"
	truncate -s 32K "$BATS_TEST_TMPDIR/b.img"
	run "$UBLKCTL" add -t stripe --buffered -f "$BATS_TEST_TMPDIR/a.img" -f "$BATS_TEST_TMPDIR/b.img"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: --file: $BATS_TEST_TMPDIR/b.img: smaller than one chunk (65536 bytes)" ]
}

@test "add: stripe with a missing member fails before any side effect" {
	truncate -s 1M "$BATS_TEST_TMPDIR/a.img"
	run "$UBLKCTL" add -t stripe -f "$BATS_TEST_TMPDIR/a.img" -f "$BATS_TEST_TMPDIR/nope.img"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: --file: $BATS_TEST_TMPDIR/nope.img: No such file or directory" ]
}

@test "add: fault --fail-every not a number" {
	usage_err "ublkctl: add: --fail-every: 'often': not a number" add -t fault --fail-every often
}

@test "add: nbd without a URI" {
	usage_err "ublkctl: add: nbd needs a URI (-t nbd URI or --uri URI)" add -t nbd
}

@test "add: nbd with something that is not an NBD URI" {
	usage_err "ublkctl: add: http://host/x: not an NBD URI (nbd://, nbds://, nbd+unix://, ...)" add -t nbd http://host/x
}

@test "add: nbd with a URI libnbd cannot parse" {
	run "$UBLKCTL" add -t nbd 'nbd+unix:///?sockt=/x'
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "ublkctl: add: nbd+unix:///?sockt=/x: "*socket* ]]
}

@test "add: nbd with two URIs" {
	usage_err "ublkctl: add: nbd: more than one URI ('nbd://a/', 'nbd://b/')" add -t nbd --uri nbd://a/ nbd://b/
}

@test "add: nbd takes one operand, other targets none" {
	usage_err "ublkctl: add: unexpected argument 'nbd://b/'" add -t nbd nbd://a/ nbd://b/
	usage_err "ublkctl: add: unexpected argument 'nbd://a/'" add -t loop -f /x nbd://a/
}

@test "add: nbd --reconnect-timeout out of range" {
	usage_err "ublkctl: add: --reconnect-timeout: '86401': out of range (0-86400)" add -t nbd --reconnect-timeout 86401 nbd://a/
}

@test "add: nbd refuses --zero-copy, --auto-zc and --user-copy" {
	local m
	for m in zero-copy auto-zc user-copy; do
		usage_err "ublkctl: add: --$m: not with -t nbd (copy mode and --batch only)" add -t nbd --$m 'nbd+unix:///?socket=/x'
	done
}

@test "add: nbd with no server there fails before any side effect" {
	run "$UBLKCTL" add -t nbd "nbd+unix:///?socket=$BATS_TEST_TMPDIR/none.sock"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: add: nbd+unix:///?socket=$BATS_TEST_TMPDIR/none.sock: connect: No such file or directory" ]
}

@test "add: --integrity refuses a bad SPEC" {
	local f=$BATS_TEST_TMPDIR/d.img m=$BATS_TEST_TMPDIR/d.pi
	usage_err "ublkctl: add: --integrity: 'csum=crc32': unknown checksum 'crc32' (none, ip, t10dif, crc64)" \
		add -t loop -f "$f" --integrity-file "$m" --integrity csum=crc32
	usage_err "ublkctl: add: --integrity: md: '256': out of range (1-255)" \
		add -t loop -f "$f" --integrity-file "$m" --integrity md=256
	usage_err "ublkctl: add: --integrity: 'md=8,csum=t10dif,pi-off=1': pi-off 1 + the 8-byte PI tuple exceed md=8" \
		add -t loop -f "$f" --integrity-file "$m" --integrity md=8,csum=t10dif,pi-off=1
	usage_err "ublkctl: add: --integrity: 'md=8,ref': ref needs a checksum (csum=)" \
		add -t loop -f "$f" --integrity-file "$m" --integrity md=8,ref
	usage_err "ublkctl: add: --integrity: 'ref': md= is needed without a checksum" \
		add -t loop -f "$f" --integrity-file "$m" --integrity ref
	usage_err "ublkctl: add: --integrity: 'csum=ip,tag=9': tag=9 exceeds md=8" \
		add -t loop -f "$f" --integrity-file "$m" --integrity csum=ip,tag=9
	usage_err "ublkctl: add: --integrity: 'csum=ip,app': unknown item 'app' (md=, csum=, pi-off=, tag=, ref, capable)" \
		add -t loop -f "$f" --integrity-file "$m" --integrity csum=ip,app
	[ ! -e "$m" ]
}

@test "add: --integrity needs user copy and a target that keeps metadata" {
	local f=$BATS_TEST_TMPDIR/d.img m=$BATS_TEST_TMPDIR/d.pi
	usage_err "ublkctl: add: --integrity cannot be combined with --zero-copy: metadata moves only by user copy" \
		add -t loop -f "$f" --integrity-file "$m" --integrity csum=ip --zero-copy
	usage_err "ublkctl: add: --integrity cannot be combined with --unprivileged: the driver has no user copy on unprivileged devices" \
		add -t loop -f "$f" --integrity-file "$m" --integrity csum=ip --unprivileged
	usage_err "ublkctl: add: --integrity: the null target cannot keep integrity metadata (loop can, with --integrity-file)" \
		add -t null --integrity csum=ip
	usage_err "ublkctl: add: --integrity: loop keeps the metadata in --integrity-file PATH" \
		add -t loop -f "$f" --integrity csum=ip
	usage_err "ublkctl: add: --integrity-file needs --integrity" \
		add -t loop -f "$f" --integrity-file "$m"
	[ ! -e "$m" ]
}

@test "add: --integrity-file is not made when add refuses the command line" {
	local f=$BATS_TEST_TMPDIR/d.img m=$BATS_TEST_TMPDIR/d.pi
	truncate -s 1M "$f"
	usage_err "ublkctl: add: --size 1000: not a multiple of the block size (512)" \
		add -t loop -f "$f" --buffered -s 1000 --integrity csum=ip --integrity-file "$m"
	[ ! -e "$m" ]
}

@test "add: zoned needs --zone-size, a power of 2" {
	usage_err "ublkctl: add: zoned needs --zone-size SIZE" add -t zoned -f "$BATS_TEST_TMPDIR/z"
	usage_err "ublkctl: add: --zone-size: '3M': not a power of 2" add -t zoned -f "$BATS_TEST_TMPDIR/z" --zone-size 3M
}

@test "add: zoned refuses every data path but user copy, the file untouched" {
	truncate -s 8M "$BATS_TEST_TMPDIR/z"
	for m in --copy --zero-copy --auto-zc --get-data --unprivileged; do
		usage_err "ublkctl: add: -t zoned: $m: zoned devices are served with --user-copy only" \
			add -t zoned -f "$BATS_TEST_TMPDIR/z" --zone-size 1M $m
	done
	# --batch alone is batch with copy; --batch --user-copy is allowed
	usage_err "ublkctl: add: -t zoned: --batch: zoned devices are served with --user-copy only (--batch --user-copy)" \
		add -t zoned -f "$BATS_TEST_TMPDIR/z" --zone-size 1M --batch
	usage_err "ublkctl: add: -t zoned: --zero-copy: zoned devices are served with --user-copy only" \
		add -t zoned -f "$BATS_TEST_TMPDIR/z" --zone-size 1M --batch --zero-copy
	cmp -n 8388608 "$BATS_TEST_TMPDIR/z" /dev/zero
}

@test "add: zoned checks its zone counts against the file before any side effect" {
	truncate -s 8M "$BATS_TEST_TMPDIR/z"
	run "$UBLKCTL" add -t zoned -f "$BATS_TEST_TMPDIR/z" --zone-size 1M --conv-zones 9
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --conv-zones 9: the device has 7 zones" ]
	run "$UBLKCTL" add -t zoned -f "$BATS_TEST_TMPDIR/z" --zone-size 1M --max-active-zones 8
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "ublkctl: add: --max-active-zones 8: more than the 7 sequential zones" ]
	usage_err "ublkctl: add: --max-open-zones 3: more than --max-active-zones 2" \
		add -t zoned -f "$BATS_TEST_TMPDIR/z" --zone-size 1M --max-open-zones 3 --max-active-zones 2
	cmp -n 8388608 "$BATS_TEST_TMPDIR/z" /dev/zero
}

@test "recover: --help has the uniform layout" {
	help_layout recover
}

@test "recover: needs -n" {
	usage_err "ublkctl: recover: no device given: use --id ID" recover
}

@test "recover: takes no other arguments" {
	usage_err "ublkctl: recover: invalid option -- 't'" recover -n 1 -t null
}

@test "recover: a device without a state file" {
	UBLKCTL_RUN_DIR=$BATS_TEST_TMPDIR run "$UBLKCTL" recover -n 77
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: recover: device 77: no state file in $BATS_TEST_TMPDIR (was it added by ublkctl?)" ]
}
