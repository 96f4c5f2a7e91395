# SPDX-License-Identifier: GPL-2.0
# Drive the bash completion of ublkctl as bash itself would: used by
# tests/cli/completion.bats, tests/cli/sync.bats, tests/e2e/completion.bats.
#
#   bashcomp_load                 source bash-completion, then ours
#   bashcomp "ublkctl add -t "    complete at the end of that line;
#                                 the candidates, one per line, in $output

# shellcheck source=../assert.bash
source "${BASH_SOURCE[0]%/*}/../assert.bash"

BASHCOMP_SCRIPT=${BASHCOMP_SCRIPT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/completions/ublkctl.bash}

bashcomp_load() {
	local f
	for f in /usr/share/bash-completion/bash_completion \
		/etc/bash_completion; do
		if [ -r "$f" ]; then
			# bash-completion expects an interactive-ish shell.
			set +u
			. "$f"
			break
		fi
	done
	. "$BASHCOMP_SCRIPT"
}

# Split a command line into COMP_WORDS the way readline does: at blanks,
# and around the word-break characters '=' and ':' (COMP_WORDBREAKS).
bashcomp() {
	local line=$1 tok last=
	local -a blank
	COMP_LINE=$line
	COMP_POINT=${#line}
	read -ra blank <<<"$line"
	[[ $line == *' ' ]] && last=1
	COMP_WORDS=()
	for tok in "${blank[@]}"; do
		while [[ $tok =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
			[ -n "${BASH_REMATCH[1]}" ] && COMP_WORDS+=("${BASH_REMATCH[1]}")
			COMP_WORDS+=("${BASH_REMATCH[2]}")
			tok=${BASH_REMATCH[3]}
		done
		[ -n "$tok" ] && COMP_WORDS+=("$tok")
	done
	[ -n "$last" ] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	# As bash runs it: without errexit (bats sets -e; a `||` list lifts it).
	_ublkctl "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
		"${COMP_WORDS[COMP_CWORD - 1]}" || true
	output=$(printf '%s\n' "${COMPREPLY[@]}")
}
