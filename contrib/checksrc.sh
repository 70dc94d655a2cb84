#!/bin/sh
# House rules the compiler does not check (STYLE.md): no raw allocation
# or unbounded string calls outside common/mem.c, lines of at most 80
# columns, no // comments.  Prints each offence; exits 1 if any.
set -u
cd "$(dirname "$0")/.."
bad=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
for f in $files; do
	case $f in common/mem.c) ;; *)
		grep -nE '(^|[^_a-z])(malloc|calloc|realloc|strdup|strndup|free|sprintf|strcpy|strcat|atoi|strtok)\(' "$f" |
		    grep -vE '^[0-9]+:[[:space:]]*(/\*|\*)' |
		    sed "s|^|$f: raw call: |" | grep . && bad=1 ;;
	esac
	# Columns with tabs expanded to the next multiple of 8.
	awk -v f="$f" '{ c = 0; n = length($0)
	    for (i = 1; i <= n; i++)
		c = substr($0, i, 1) == "\t" ? c + 8 - c % 8 : c + 1
	    if (c > 80) { print f ":" NR ": longer than 80 columns"; b = 1 } }
	    END { exit b }' "$f" || bad=1
	grep -n '^[^"]*//' "$f" | grep -v 'http' | sed "s|^|$f: // comment: |" | grep . && bad=1
done
[ $bad -eq 0 ] && echo "checksrc: ok"
exit $bad
