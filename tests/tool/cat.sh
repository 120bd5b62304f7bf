#!/bin/bash
# xf-cat's command-line contract, as TAP: a table of calls with their exit
# code and output over image, feature and table streams, then PNG, JSON and
# pipe checks.
. "$(dirname "$0")/../tap.sh"
py=/usr/bin/python3     # Debian's, with python3-msgpack
cd "$tmp" || exit 1

# The table: RC|WANT|CMD rows for table_run (tests/tap.sh).

# Streams: tiny images from an IDX pair, and (with Python) a table and a
# feature stream written by msgpack alone, as another tool would.
printf '\0\0\10\3\0\0\0\3\0\0\0\1\0\0\0\2ABCDEF' >im
printf '\0\0\10\1\0\0\0\3\2\0\1' >lb
xf-import idx im lb -o img.xfs
xf-import synthetic --count 30 -s 2 -o syn.xfs
head -c 1000 syn.xfs >trunc.xfs
have_py=0
if "$py" -c 'import msgpack' 2>/dev/null; then
	have_py=1
	"$py" - <<'PY'
import msgpack, struct
def head(kind, **kw):
    h = {"format": "xf-stream", "version": 1, "kind": kind, "classes": 0,
         "count": None, "endian": "little", "provenance": ["test"]}
    h.update(kw)
    return msgpack.packb(h)
with open("eval.xfs", "wb") as f:
    f.write(head("eval"))
    f.write(msgpack.packb({"step": 1, "loss": 0.5, "name": "a\tb", "ok": True}))
    f.write(msgpack.packb({"step": 2, "loss": float("nan"), "ok": False}))
    f.write(msgpack.packb({"step": 3, "loss": 1e-7, "name": "c", "ok": None}))
with open("feat.xfs", "wb") as f:
    f.write(head("features", dtype="float32", shape=[3], module="fc1",
                 classes=2, count=2))
    for i in range(2):
        f.write(msgpack.packb({"i": i, "y": i,
            "x": struct.pack("<3f", 0.5, -1.25 * i, 3.0)}))
PY
fi

while IFS='|' read -r rc want cmd; do
	case $rc in ''|'#'*) continue ;; esac
	table_run "$rc" "$want" "$cmd"
done <<'TABLE'
# exit|stdout md5, =text, err, fail or usage|command
0|=i\ty\tx\n0\t2\t65 66\n1\t0\t67 68\n2\t1\t69 70\n|xf-cat img.xfs
0|=i\ty\tx\n0\t2\t65 66\n1\t0\t67 68\n2\t1\t69 70\n|xf-cat --tsv <img.xfs
0|=i\ty\n1\t0\n2\t1\n|xf-cat --no-x -r 1: img.xfs
0|=i\ty\tx\n0\t2\t65 66\n|xf-cat -r :1 img.xfs
0|=i\ty\tx\n1\t0\t67 68\n|xf-cat --range 1:2 img.xfs
0|=|xf-cat -r 2:2 img.xfs
0|=|xf-cat -r 7: img.xfs
0|={"i":0,"y":2,"x":[65,66]}\n{"i":1,"y":0,"x":[67,68]}\n{"i":2,"y":1,"x":[69,70]}\n|xf-cat --json img.xfs
0|={"i":2,"y":1}\n|xf-cat --json --no-x -r 2: img.xfs
0|={"format":"xf-stream","version":1,"kind":"images","dtype":"uint8","shape":[1,1,2],"classes":3,"count":3,"endian":"little","provenance":["xf-import idx im lb -o img.xfs"]}\n|xf-cat --header img.xfs
0|=i\ty\n0\t2\n|xf-cat --unbuffered --no-x -r :1 img.xfs
0|=i\ty\tx\n0\t2\t65 66\n1\t0\t67 68\n2\t1\t69 70\n|xf-cat -o o.tsv img.xfs && cat o.tsv
2|usage|xf-cat --json --tsv img.xfs
2|usage|xf-cat img.xfs img.xfs
2|usage|xf-cat --nosuch img.xfs
2|err|xf-cat -r 5 img.xfs
2|err|xf-cat -r a:b img.xfs
2|err|xf-cat -r -1:3 img.xfs
2|err|xf-cat --png 8 img.xfs
2|err|xf-cat --png 0x3 img.xfs
2|err|xf-cat --png 2x2 --scale 0 img.xfs
1|err|xf-cat nosuch.xfs
1|err|echo hello | xf-cat
1|err|: | xf-cat
1|fail|xf-cat trunc.xfs
1|err|xf-cat -o /nonexistent/o.tsv img.xfs
TABLE

if [ $have_py = 1 ]; then
	table_run 0 '=step\tloss\tname\tok\n1\t0.5\ta b\ttrue\n2\tnan\t\tfalse\n3\t1e-07\tc\t\n' 'xf-cat eval.xfs'
	table_run 0 '={"step":1,"loss":0.5,"name":"a\\tb","ok":true}\n{"step":2,"loss":null,"ok":false}\n{"step":3,"loss":1e-07,"name":"c","ok":null}\n' 'xf-cat --json eval.xfs'
	table_run 0 '=i\ty\tx\n0\t0\t0.5 -0 3\n1\t1\t0.5 -1.25 3\n' 'xf-cat feat.xfs'
	table_run 0 '={"i":1,"y":1,"x":[0.5,-1.25,3]}\n' 'xf-cat --json -r 1: feat.xfs'
	table_run 0 '={"format":"xf-stream","version":1,"kind":"features","dtype":"float32","shape":[3],"module":"fc1","classes":2,"count":2,"endian":"little","provenance":["test"]}\n' 'xf-cat --header feat.xfs'
	table_run 1 err 'xf-cat --png 1x1 eval.xfs'
	table_run 1 err 'xf-cat --png 1x1 feat.xfs'
	# Every --json line is JSON that Python reads back.
	xf-cat --json syn.xfs | "$py" -c 'import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 30 and all(len(r["x"]) == 784 for r in rows)'
	ok $? "--json: 30 lines that Python's json reads"
	# PNG: signature and size; 2x5 cells of 28*4 pixels, 1-pixel separators.
	xf-cat --png 2x5 --scale 4 syn.xfs >g.png
	"$py" -c 'import struct, sys
b = open("g.png", "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", b[:16]
w, h, depth, color = struct.unpack(">IIBB", b[16:26])
assert (w, h, depth, color) == (5 * 113 + 1, 2 * 113 + 1, 8, 0), (w, h, depth, color)'
	ok $? "--png 2x5 --scale 4: a 566x227 gray PNG"
	xf-import synthetic --count 4 --shape 3,5,5 | xf-cat --png 1x4 -o rgb.png
	"$py" -c 'import struct
b = open("rgb.png", "rb").read()
assert struct.unpack(">IIBB", b[16:26]) == (4 * 6 + 1, 7, 8, 2)'
	ok $? "--png of 3-channel images: an RGB PNG"
else
	for i in 1 2 3 4 5 6 7 8 9 10; do skip "no $py with msgpack"; done
fi
xf-cat --png 3x3 -r 10: syn.xfs >a
xf-cat --png 3x3 -r 10: syn.xfs >b
xf-cat --png 3x3 syn.xfs >c
same a b && differ a c
ok $? "--png: deterministic, and -r picks the images"

# Pipes: a reader that goes away ends xf-cat quietly.
xf-import synthetic --count 20000 | xf-cat 2>err | head -2 >/dev/null
[ "${PIPESTATUS[1]}" = 0 ] && [ ! -s err ]
ok $? "EPIPE (TSV): exit 0, nothing on stderr"
xf-import synthetic --count 20000 | xf-cat --json --unbuffered 2>err | head -c 10 >/dev/null
[ "${PIPESTATUS[1]}" = 0 ] && [ ! -s err ]
ok $? "EPIPE (JSON, unbuffered): exit 0, nothing on stderr"
if [ -w /dev/full ]; then
	xf-cat syn.xfs >/dev/full 2>err
	[ $? = 1 ] && grep -q '^xf-cat: stdout: No space left on device' err
	ok $? "a full disk: exit 1 and a message"
	xf-cat --png 5x5 syn.xfs >/dev/full 2>err
	[ $? = 1 ] && grep -q '^xf-cat: ' err
	ok $? "a full disk under --png: exit 1 and a message"
else
	skip "no /dev/full"; skip "no /dev/full"
fi

tap_done
