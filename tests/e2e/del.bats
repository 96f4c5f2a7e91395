#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
# ublkctl del against real devices (VM).

load lib

server_alive() {
	[ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

@test "del: removes the device, its state file and its server" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	[ -f "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
	run "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ ! -e "/dev/ublkb$DEV_ID" ]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
	refute server_alive "$pid"
}

@test "del: the id is free again when del returns" {
	e2e_add -t null -n 42
	[ "$status" -eq 0 ]
	run "$UBLKCTL" del -n 42
	[ "$status" -eq 0 ]
	e2e_add -t null -n 42
	[ "$status" -eq 0 ]
}

@test "del: a missing device fails naming it" {
	run "$UBLKCTL" del -n 1048575
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: del: device 1048575: no such device" ]
}

# start_fio ID [fio args]: random I/O on /dev/ublkbID in the background
# ($fio_pid), returning once fio's job process (not $fio_pid itself) has
# it open.
start_fio() {
	local id=$1
	shift
	fio --name=load --filename="/dev/ublkb$id" --ioengine=io_uring \
		--direct=1 --rw=randrw --bs=4k --iodepth=32 --time_based \
		--runtime=60 "$@" >/dev/null 2>&1 &
	fio_pid=$!
	e2e_wait 30 bash -c "find /proc/[0-9]*/fd -lname /dev/ublkb$id 2>/dev/null | grep -q ."
	sleep 1
}

@test "del: refuses while fio has the device open, naming fio; nothing changes" {
	f=$(e2e_backing 256M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	start_fio "$DEV_ID"
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	echo "$output"
	kill -0 "$fio_pid"
	state=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE)
	kill "$fio_pid"
	wait "$fio_pid" || true
	[ "$status" -eq 1 ]
	[[ "$output" == "ublkctl: del: device $DEV_ID: in use: open by fio (pid "* ]]
	[[ "$output" == *"(--force deletes it anyway)" ]]
	[ "$state" = live ]
	[ -f "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
}

@test "del: --force under a running fio returns without waiting for the holders" {
	f=$(e2e_backing 256M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	start_fio "$DEV_ID" --rate_iops=500
	# a holder that does no I/O and stays until we let go: del --force
	# must return while it is still open
	exec 7<"/dev/ublkb$DEV_ID"
	t0=$(date +%s%N)
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID" --force
	t1=$(date +%s%N)
	echo "del --force took $(((t1 - t0) / 1000000)) ms: $output"
	[ "$status" -eq 0 ]
	[[ "$output" == "ublkctl: del: device $DEV_ID: deleted while in use ("* ]]
	[[ "$output" == *"id $DEV_ID is freed when they close it" ]]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
	# returned with the holder open: the id is not free yet
	run timeout 60 "$UBLKCTL" add -t null -s 16M -n "$DEV_ID"
	echo "add -n $DEV_ID while held: $output"
	[ "$status" -ne 0 ]
	wait "$fio_pid" || true
	exec 7<&-
	# every holder gone: the id is freed and can be taken again
	e2e_wait 20 timeout 60 "$UBLKCTL" add -t null -s 16M -n "$DEV_ID"
}

@test "del: refuses a mounted device naming the mount point; the fs survives" {
	f=$(e2e_backing 256M)
	e2e_add -t loop -f "$f"
	[ "$status" -eq 0 ]
	mkfs.ext4 -q "/dev/ublkb$DEV_ID"
	mnt=$BATS_TEST_TMPDIR/mnt
	mkdir "$mnt"
	mount "/dev/ublkb$DEV_ID" "$mnt"
	echo survives >"$mnt/file"
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	echo "$output"
	# Still usable: written and synced through the device.
	echo again >>"$mnt/file"
	sync -f "$mnt/file"
	umount "$mnt"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: del: device $DEV_ID: in use: mounted on $mnt: not deleted (--force deletes it anyway)" ]
	run "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	run fsck.ext4 -fn "$f"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(debugfs -R 'cat /file' "$f" 2>/dev/null)" = "$(printf 'survives\nagain')" ]
}

@test "del: a device held open is refused at once, then deleted when closed" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	exec 8<"/dev/ublkb$DEV_ID"
	start=$SECONDS
	run "$UBLKCTL" del -n "$DEV_ID" --timeout 2
	took=$((SECONDS - start))
	exec 8<&-
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == "ublkctl: del: device $DEV_ID: in use: open by "* ]]
	[ "$took" -le 4 ]
	[ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ "$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o STATE)" = live ]
	run "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
}

@test "del: --force on a device held open deletes it; the id is freed when closed" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	exec 8<"/dev/ublkb$DEV_ID"
	run "$UBLKCTL" del -n "$DEV_ID" --force
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "ublkctl: del: device $DEV_ID: deleted while in use (open by "* ]]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
	exec 8<&-
	e2e_wait 10 bash -c "! [ -e /sys/class/ublk-char/ublkc$DEV_ID ]"
}

@test "del: --force on a device nobody holds deletes it as del does" {
	e2e_add -t null -n 43
	[ "$status" -eq 0 ]
	run "$UBLKCTL" del -n 43 --force
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	e2e_add -t null -n 43
	[ "$status" -eq 0 ]
}

@test "del: --async returns and the device goes away" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	run "$UBLKCTL" del -n "$DEV_ID" --async
	[ "$status" -eq 0 ]
	e2e_wait 5 bash -c "! [ -e /sys/class/ublk-char/ublkc$DEV_ID ]"
}

@test "del: -a deletes every device it may; 64 when some are refused, reported per device" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	a=$DEV_ID
	e2e_add -t null
	[ "$status" -eq 0 ]
	b=$DEV_ID
	exec 8<"/dev/ublkb$b"
	run "$UBLKCTL" del -a --timeout 2
	exec 8<&-
	[ "$status" -eq 64 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "ublkctl: del: device $b: in use: open by "* ]]
	[ ! -e "/sys/class/ublk-char/ublkc$a" ]
	[ -e "/sys/class/ublk-char/ublkc$b" ]
	run "$UBLKCTL" del -a
	[ "$status" -eq 0 ]
	[ -z "$(ls /sys/class/ublk-char)" ]
}

@test "del: -a with no devices succeeds quietly" {
	"$UBLKCTL" del -a
	run "$UBLKCTL" del -a
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "del: -a exits 32 when every device fails" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	exec 8<"/dev/ublkb$DEV_ID"
	run "$UBLKCTL" del -a --timeout 1
	exec 8<&-
	[ "$status" -eq 32 ]
}

@test "del: a device whose server was killed (recovery on) is deleted" {
	e2e_add -t null -r
	[ "$status" -eq 0 ]
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	kill -9 "$pid"
	e2e_wait 10 bash -c "[ \"\$('$UBLKCTL' list -r --noheadings -n $DEV_ID -o STATE)\" = quiesced ]"
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 0 ]
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
	[ ! -e "$UBLKCTL_RUN_DIR/$DEV_ID.json" ]
}

@test "del: a hung server fails at --timeout with a clear error, never hangs" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	pid=$("$UBLKCTL" list -r --noheadings -n "$DEV_ID" -o PID)
	kill -STOP "$pid"
	start=$SECONDS
	run timeout 30 "$UBLKCTL" del -n "$DEV_ID" --timeout 2
	took=$((SECONDS - start))
	kill -CONT "$pid"
	echo "$output (${took}s)"
	[ "$status" -eq 1 ]
	[ "$output" = "ublkctl: del: device $DEV_ID: server (pid $pid) did not exit within 2 s" ]
	[ "$took" -le 4 ]
	# Running again, the server takes the SIGTERM del sent (and may delete
	# the device itself); del finishes whatever is left.
	e2e_wait 10 bash -c "! [ -d /proc/$pid ] || grep -q '^State:.*Z' /proc/$pid/status"
	if [ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]; then
		run timeout 30 "$UBLKCTL" del -n "$DEV_ID"
		echo "$output"
		[ "$status" -eq 0 ]
	fi
	[ ! -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}

@test "del: without privilege, says which capability is missing" {
	e2e_add -t null
	[ "$status" -eq 0 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$UBLKCTL" del -n "$DEV_ID"
	[ "$status" -eq 1 ]
	[[ "$output" == *"CAP_SYS_ADMIN"* ]]
	[ -e "/sys/class/ublk-char/ublkc$DEV_ID" ]
}
