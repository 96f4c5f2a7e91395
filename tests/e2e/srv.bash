# SPDX-License-Identifier: GPL-2.0
# Helpers for the server e2e tests (add, loop, batch, autozc, recover,
# fault, null), on top of lib.bash.

load lib

# Server pid of device $1, from list.
srv_pid() {
	"$UBLKCTL" list -J | jq -r ".ublkdevices[] | select(.id == $1) | .pid"
}

# Device state of $1 (live, quiesced, ...), from list.
srv_state() {
	"$UBLKCTL" list -J | jq -r ".ublkdevices[] | select(.id == $1) | .state"
}

# JSON field $2 of device $1.
srv_field() {
	"$UBLKCTL" list -J | jq -r ".ublkdevices[] | select(.id == $1) | .$2"
}

# Whether device $1 has flag $2 (list -J gives FLAGS as an array of names).
srv_has_flag() {
	"$UBLKCTL" list -J |
		jq -e ".ublkdevices[] | select(.id == $1) | .flags | any(. == \"$2\")" >/dev/null
}

# The MODE add gives target $1 (null, fault, loop, stripe; default null)
# without a data-path option: from the driver's features (GET_FEATURES),
# as ublkctl-add(8) says.
fast_mode() {
	local feats path
	feats=$("$UBLKCTL" features -r --noheadings -o NAME)
	case ${1:-null} in
	# no storage: user copy, where the driver registers and copies nothing
	null|fault) grep -qx USER_COPY <<<"$feats" && path=user-copy || path=copy ;;
	*) grep -qx AUTO_BUF_REG <<<"$feats" && path=auto-zc || path=copy ;;
	esac
	if grep -qx BATCH_IO <<<"$feats"; then
		[ "$path" = copy ] && path=batch || path=batch-$path
	fi
	echo "$path"
}

# MODE of device $1, from list.
srv_mode() {
	"$UBLKCTL" list -r --noheadings -n "$1" -o MODE
}

proc_alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# loop_verify ARGS...: a loop device on a fresh 64M file with ARGS, fio
# crc32c verify over 32M, then del; every step must succeed.
loop_verify() {
	loop_verify_keep "$@"
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
}

# loop_verify_keep ARGS...: loop_verify, the device left live as $DEV_ID.
loop_verify_keep() {
	local f
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" "$@"
	echo "add $*: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(srv_state "$DEV_ID")" = live ]
	e2e_fio_verify "$DEV_ID"
	echo "fio: $output" >&2
	[ "$status" -eq 0 ]
	# terse field 5 is the error count
	[ "$(cut -d';' -f5 <<<"${lines[0]}")" = 0 ]
}

# mkfs_cycle ID: mkfs.ext4, mount, write, umount, fsck clean.
mkfs_cycle() {
	local id=$1 mnt=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$mnt"
	run mkfs.ext4 -q -F "/dev/ublkb$id"
	[ "$status" -eq 0 ]
	mount "/dev/ublkb$id" "$mnt"
	dd if=/dev/urandom of="$mnt/data" bs=1M count=8 status=none
	sum1=$(md5sum < "$mnt/data")
	umount "$mnt"
	mount "/dev/ublkb$id" "$mnt"
	sum2=$(md5sum < "$mnt/data")
	umount "$mnt"
	[ "$sum1" = "$sum2" ]
	run fsck.ext4 -f -n "/dev/ublkb$id"
	echo "fsck: $output" >&2
	[ "$status" -eq 0 ]
}

# kill_recover ID: kill -9 the server of device ID, wait until the device
# is quiesced, recover -n ID; the device must be live under a new server.
kill_recover() {
	local old
	old=$(srv_pid "$1")
	kill -9 "$old"
	e2e_wait 20 bash -c "[ \"\$(\"$UBLKCTL\" list -J | jq -r '.ublkdevices[] | select(.id == $1) | .state')\" = quiesced ]"
	run timeout 60 "$UBLKCTL" recover -n "$1"
	echo "recover: $output" >&2
	[ "$status" -eq 0 ]
	[ "$(srv_state "$1")" = live ]
	[ "$(srv_pid "$1")" != "$old" ]
}

# crash_recover ARGS...: loop device with --recovery=reissue and ARGS; fio
# writes with verify; the server is killed (-9) mid-run; recover -n; fio
# must finish and verify clean (no acknowledged write lost). Reissue: the
# kernel fails the I/O the dead server held unless told to reissue it.
crash_recover() {
	local f new
	f=$(e2e_backing 64M)
	e2e_add -t loop -f "$f" --recovery=reissue "$@"
	[ "$status" -eq 0 ]
	timeout 240 fio --name=verify --filename="/dev/ublkb$DEV_ID" \
		--ioengine=io_uring --direct=1 --rw=randwrite --bs=4k \
		--iodepth=16 --size=32M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --output-format=terse \
		> "$BATS_TEST_TMPDIR/fio.out" 2>&1 &
	local fio_pid=$!
	sleep 2
	kill_recover "$DEV_ID"
	new=$(srv_pid "$DEV_ID")
	proc_alive "$new"
	# the state file follows the new server
	[ "$(jq -r .pid "$UBLKCTL_RUN_DIR/$DEV_ID.json")" = "$new" ]
	local rc=0
	wait "$fio_pid" || rc=$?
	cat "$BATS_TEST_TMPDIR/fio.out" >&2
	dmesg | tail -n 20 >&2
	[ "$rc" -eq 0 ]
	[ "$(head -n1 "$BATS_TEST_TMPDIR/fio.out" | cut -d';' -f5)" = 0 ]
}
