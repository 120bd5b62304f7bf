#!/bin/bash
# xf-shuffle's command-line contract, as TAP: a table of calls with their
# exit code and output, then inverses, the identity, determinism and memory.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3     # Debian's, with python3-msgpack
cd "$tmp" || exit 1

# The table: RC|WANT|CMD rows for table_run (tests/tap.sh).

# The records of a stream: everything after the header map.
body() {
	local size

	size=$("$py" -c 'import msgpack, sys
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
next(u)
print(u.tell())' "$1") && tail -c +$((size + 1)) "$1"
}

xf-import synthetic --count 40 -s 1 -o in.xfs                  # 1x28x28
xf-import synthetic --count 40 --shape 3,12,8 -s 2 -o rgb.xfs  # 3x12x8
head -c 2000 in.xfs >trunc.xfs

while IFS='|' read -r rc want cmd; do
	case $rc in ''|'#'*) continue ;; esac
	table_run "$rc" "$want" "$cmd"
done <<'TABLE'
# exit|stdout md5, err or usage|command
0|787fcc7a40237bfa53fd8f765f070082|xf-shuffle -b 7 -s 1 in.xfs
0|5da0d19a4e8946a33cb58bc2fdcdef73|xf-shuffle -b 7 -s 1 <in.xfs
0|6f3930f8dffe0fdef5bea14288d5f80d|xf-shuffle -s 1 -o o.xfs -b 7 in.xfs && cat o.xfs
0|c8e219d0c8dabb29bfdb95ed6b8dfe8c|xf-shuffle --mode fixed -b 7 -s 1 in.xfs
0|2782a1e6182d733edff0983ee415b704|xf-shuffle --mode image -b 7 -s 1 in.xfs
0|c2ad468cafe5dc2ed7a8ecba0a2d641e|xf-shuffle --mode pixel -s 1 in.xfs
0|06ed5e7527257bf7a2851e4c1a734ba6|xf-shuffle -b 4 -s 2 rgb.xfs
0|651601efffbc98b8a50896c1cdf4b790|xf-shuffle -b 2 -s 2 --inverse rgb.xfs
2|err|xf-shuffle -b 0 in.xfs
2|err|xf-shuffle -b 5 in.xfs
2|err|xf-shuffle -b 8 rgb.xfs
2|err|xf-shuffle -b 56 in.xfs
2|err|xf-shuffle -b x in.xfs
2|err|xf-shuffle in.xfs
2|err|xf-shuffle -b 7 --mode blocks in.xfs
2|err|xf-shuffle -b 7 -s -1 in.xfs
2|usage|xf-shuffle -b 7 in.xfs in.xfs
2|usage|xf-shuffle -b 7 --nosuch in.xfs
1|err|xf-shuffle -b 7 nosuch.xfs
1|fail|xf-shuffle -b 7 trunc.xfs
1|err|echo hello | xf-shuffle -b 7
1|err|: | xf-shuffle -b 7
1|err|xf-shuffle -b 7 -o /nonexistent/o.xfs in.xfs
TABLE

if "$py" -c 'import msgpack' 2>/dev/null; then
	# b = H and W: one block, the records come out byte for byte.
	xf-shuffle -b 28 -s 9 in.xfs >same.xfs
	body in.xfs >a; body same.xfs >b
	same a b
	ok $? "b = 28 on 28x28: records byte-identical"
	# A shuffle then its inverse gives the input records back, every mode.
	for m in fixed image pixel; do
		xf-shuffle --mode $m -b 7 -s 3 in.xfs | xf-shuffle --mode $m -b 7 -s 3 --inverse >back.xfs
		body back.xfs >b
		same a b
		ok $? "$m: shuffle then --inverse gives the input records back"
	done
	body rgb.xfs >a
	xf-shuffle -b 2 -s 4 rgb.xfs | xf-shuffle -b 2 -s 4 --inverse >back.xfs
	body back.xfs >b
	same a b
	ok $? "3x12x8, b = 2: shuffle then --inverse gives the input records back"
	# The same records from a file or stdin, with or without --mode fixed.
	xf-shuffle -b 7 -s 1 in.xfs >f1; xf-shuffle -b 7 -s 1 <in.xfs >f2
	xf-shuffle --mode fixed -b 7 -s 1 in.xfs >f3
	body f1 >a; body f2 >b; body f3 >c
	same a b && same a c
	ok $? "file or stdin, default or --mode fixed: the same records"
else
	for i in 1 2 3 4 5 6; do skip "no $py with msgpack"; done
fi

# A shuffle changes pixels, keeps i and y, and the header says what it did.
xf-cat in.xfs | cut -f1,2 >a
xf-shuffle -b 7 -s 1 in.xfs | xf-cat | cut -f1,2 >b
same a b
ok $? "i and y pass through unchanged"
xf-cat in.xfs >a; xf-shuffle -b 7 -s 1 in.xfs | xf-cat >b
differ a b
ok $? "b = 7 changes the pixels"
xf-shuffle -s 1 --mode image -b 7 in.xfs | xf-cat --header >h
grep -q '"count":40,' h &&
    grep -q '"provenance":\["xf-import synthetic --count 40 -s 1 -o in.xfs","xf-shuffle -s 1 --mode image -b 7 in.xfs # mode image, b 7, seed 1"\]' h
ok $? "header: count kept, provenance line with every parameter"

# Determinism, and one permutation per (seed, b) in fixed mode.
xf-shuffle -b 4 -s 5 in.xfs >s1; xf-shuffle -b 4 -s 5 in.xfs >s2; xf-shuffle -b 4 -s 6 in.xfs >s3
same s1 s2; ok $? "same seed, same bytes"
differ s1 s3; ok $? "another seed, other bytes"
# Two copies of one image, fixed: the same output twice; image mode: not.
head -c 784 /dev/urandom >img
{ printf '\0\0\10\3\0\0\0\2\0\0\0\34\0\0\0\34'; cat img img; } >im2
printf '\0\0\10\1\0\0\0\2\1\2' >lb2
xf-import idx im2 lb2 | xf-shuffle -b 7 -s 8 | xf-cat | tail -n +2 | cut -f3 | sort -u | wc -l >t
xf-import idx im2 lb2 | xf-shuffle -b 7 -s 8 --mode image | xf-cat | tail -n +2 | cut -f3 | sort -u | wc -l >>t
[ "$(cat t)" = "$(printf '1\n2')" ]
ok $? "two equal images: fixed mode shuffles them alike, image mode not"

# Pipes: a reader that goes away ends xf-shuffle quietly.
xf-import synthetic --count 20000 | xf-shuffle -b 7 2>err | head -c 100 >/dev/null
[ "${PIPESTATUS[1]}" = 0 ] && [ ! -s err ]
ok $? "EPIPE: exit 0, nothing on stderr"

# Constant memory on real data.
fm=/usr/share/datasets/fashion-mnist
if [ -r "$fm/train-images-idx3-ubyte.gz" ] && [ -x /usr/bin/time ]; then
	xf-import fashion-mnist -o fm.xfs
	/usr/bin/time -f %M -o rss xf-shuffle -b 7 -s 1 -o fms.xfs fm.xfs
	# Constant memory: 20 MB, or 400 MB under ASan's shadow and quarantine.
	[ "$(xf-cat --no-x fms.xfs | wc -l)" = 60001 ] &&
	    [ "$(cat rss)" -lt $([ "${XF_SAN:-0}" = 1 ] && echo 400000 || echo 20000) ]
	ok $? "fashion-mnist train: 60000 records shuffled in $(cat rss) KiB"
else
	skip "no $fm or /usr/bin/time"
fi

tap_done
