#!/usr/bin/env zsh
# SPDX-License-Identifier: GPL-2.0
# Run the zsh completion of ublkctl in a real interactive zsh (compinit,
# in a pseudo-terminal) and print the candidates, one per line.
#
#   tests/cli/zshcomp.zsh COMPDIR 'ublkctl add -t '
#
# `ublkctl` is taken from PATH. compadd is wrapped to echo every match it
# adds; a comppostfuncs hook marks the end of the completion.
emulate -L zsh
zmodload zsh/zpty || exit 1
compdir=${1:?COMPDIR}
line=${2:?LINE}

zpty zc zsh -f -i
zpty -w zc "PROMPT=''; RPROMPT=''; PS2=''; unsetopt zle_bracketed_paste 2>/dev/null"
# Only the completion system's own directories: compinit reads every file
# on fpath, which is slow on a VM's 9p root.
zpty -w zc "fpath=(${(q)compdir} \${(M)fpath:#*/Completion(|/Base|/Zsh|/Unix)}); autoload -Uz compinit; compinit -u -D"
zpty -w zc 'compadd() {
	if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
		builtin compadd "$@"
		return
	fi
	local -a _zc_hits
	builtin compadd -A _zc_hits "$@"
	local ret=$?
	(( $#_zc_hits )) && print -rl -- "<C>"${^_zc_hits}
	builtin compadd "$@"
	return ret
}'
zpty -w zc '_zc_end() { print "<EN""D>"; exit }; comppostfuncs=(_zc_end)'
zpty -w zc "print '<REA''DY>'"
zpty -r zc out '*<READY>*' || exit 1
zpty -n -w zc "$line"$'\t'
while zpty -r zc out; do
	[[ $out == *'<END>'* ]] && break
	[[ $out == *'<C>'* ]] && print -r -- ${${out##*<C>}%%$'\r'*}
done
zpty -d zc
