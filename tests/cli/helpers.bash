# SPDX-License-Identifier: GPL-2.0
# Helpers for the no-root, no-kernel CLI tests.

# shellcheck source=../assert.bash
source "${BASH_SOURCE[0]%/*}/../assert.bash"

UBLKCTL=${UBLKCTL:-$BATS_TEST_DIRNAME/../../build/ublkctl}

# usage_err EXPECTED-FIRST-LINE CMD [ARGS...]: the command fails with exit 2,
# one error line exactly as given, then the hint for that command.
usage_err() {
	local want=$1 cmd=$2
	shift 2
	run "$UBLKCTL" "$cmd" "$@"
	echo "ublkctl $cmd $*: exit $status" >&2
	printf '%s\n' "$output" >&2
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "$want" ]
	[ "${lines[1]}" = "Try 'ublkctl $cmd --help'." ]
}

# The kernel-side tests below only make sense without the driver.
need_no_driver() {
	[ ! -e /dev/ublk-control ] || skip "/dev/ublk-control exists here"
}

# no_driver CMD [ARGS...]: exit 1 with the one clear message about ublk_drv.
no_driver() {
	local cmd=$1
	shift
	run "$UBLKCTL" "$cmd" "$@"
	printf '%s\n' "$output" >&2
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 1 ]
	[ "${lines[0]}" = "ublkctl: $cmd: /dev/ublk-control: No such file or directory: is the ublk_drv module loaded?" ]
}

# help_layout CMD: the uniform --help layout (util-linux boilerplate).
help_layout() {
	local cmd=$1 i last_opt=-1 see
	run "$UBLKCTL" "$cmd" --help
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "Usage:" ]
	[[ "${lines[1]}" == " ublkctl $cmd"* ]]
	# bats drops empty lines: description, then Options:
	[[ "${lines[2]}" =~ ^[A-Z].*\.$ ]]
	[ "${lines[3]}" = "Options:" ]
	for ((i = 4; i < ${#lines[@]}; i++)); do
		[[ "${lines[i]}" =~ ^\ (-[a-zA-Z],|\ \ \ )\ --[a-z] ]] && last_opt=$i
	done
	[[ "${lines[last_opt]}" == " -h, --help "* ]]
	see=${lines[${#lines[@]} - 1]}
	[ "$see" = "See ublkctl-$cmd(8)." ]
	# --help goes to stdout only.
	run bash -c '"$0" "$1" --help 2>&1 >/dev/null' "$UBLKCTL" "$cmd"
	[ -z "$output" ]
}
