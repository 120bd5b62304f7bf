#!/bin/bash
# The man pages, as TAP: every page passes mandoc -Tlint at warning level;
# every tool's SYNOPSIS (as mandoc renders it) is its usage() message; and
# every EXAMPLES block of every man/man1 page runs.  A block is a
# .Bd -literal ... .Ed display inside .Sh EXAMPLES; its lines that start
# with "$ " are commands.  The blocks of one page run in order in one fresh
# directory (later examples may use the files of earlier ones), with bin/ on
# PATH; each block must exit 0, every stage of its pipelines included.  A block that needs data the machine lacks
# (Fashion-MNIST, the mnist cache) is skipped.
. "$(dirname "$0")/../tap.sh"
fm=/usr/share/datasets/fashion-mnist
mn=${XF_DATA:-$HOME/.cache/xf}/mnist
cd "$tmp" || exit 1


# The command blocks of a page, one per line, commands joined by " && ";
# mdoc's escapes \e and \- become \ and -.
blocks() {
	awk '
	/^\.Sh / { inex = ($2 == "EXAMPLES") }
	inex && /^\.Bd -literal/ { inbd = 1; cmd = ""; next }
	inex && inbd && /^\.Ed/ {
		inbd = 0
		if (cmd != "") print cmd
		next
	}
	inex && inbd && /^\$ / {
		line = substr($0, 3)
		gsub(/\\e/, "\\", line)
		gsub(/\\-/, "-", line)
		cmd = cmd == "" ? line : cmd " && " line
	}' "$1"
}

if ! command -v mandoc >/dev/null 2>&1; then
	skip "no mandoc (make deps)"
else
	for page in "$top"/man/man[15]/*.[15]; do
		mandoc -Tlint -W warning "$page" > err 2>&1
		ok $? "$(basename "$page") passes mandoc -Tlint -W warning$(
		    [ -s err ] && printf ': %s' "$(head -3 err | tr '\n' ' ')")"
	done
	# Words, with " | " as mdoc draws alternatives written as "|".
	flat() { tr -s ' \t\n' '   ' | sed 's/ | /|/g; s/^ //; s/ $//'; }
	for page in "$top"/man/man1/*.1; do
		name=$(basename "$page" .1)
		syn=$(mandoc -Tascii "$page" | col -b |
		    awk '/^SYNOPSIS/ { f = 1; next } /^[A-Z]/ { f = 0 } f' | flat)
		use=$("$name" --nosuch 2>&1 | sed -n '/^usage: /,$p' |
		    sed 's/^usage: //; s/^       //' | flat)
		if [ "$syn" = "$use" ]; then pass "$name(1) SYNOPSIS is its usage"
		else not_ok "$name(1) SYNOPSIS is its usage" "man:   $syn" "usage: $use"; fi
	done
fi

examples=0
for page in "$top"/man/man1/*.1; do
	[ -e "$page" ] || continue
	name=$(basename "$page" .1)
	dir=$tmp/$name
	mkdir -p "$dir"
	k=0
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		k=$((k + 1))
		examples=$((examples + 1))
		case $cmd in
		*fashion-mnist*)
			[ -r "$fm/train-images-idx3-ubyte.gz" ] ||
			    { skip "$name example $k: no $fm"; continue; } ;;
		*mnist*)
			[ -r "$mn/src/digits/9.json" ] ||
			    { skip "$name example $k: no mnist in $mn"; continue; } ;;
		esac
		(cd "$dir" && bash -o pipefail -c "$cmd" >out 2>err </dev/null)
		status=$?
		ok $status "$name example $k: $cmd"
		[ $status = 0 ] || sed 's/^/#   /' "$dir/err"
	done <<-EOF2
	$(blocks "$page")
	EOF2
done
[ $examples -gt 0 ] || skip "no examples in man/man1"
tap_done
