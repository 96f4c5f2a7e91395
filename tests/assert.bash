# SPDX-License-Identifier: GPL-2.0
# Assertions shared by the bats suites (cli and e2e).

# refute CMD [ARGS...]: fail the test if CMD succeeds. A bare `! CMD` in
# the middle of a bats test never fails it (errexit ignores a negated
# command); this does.
refute() {
	if "$@"; then
		echo "refute: succeeded: $*" >&2
		return 1
	fi
}
