#!/bin/bash
# The differential test: every stream and every checkpoint manifest of the
# fuzz corpus (tests/fuzz/corpus, tests/fuzz/regress) read by xf and by an
# independent reader, Python's msgpack with the rules of formats/stream.md
# and formats/checkpoint.md written out below.  For each file both refuse
# it, or both accept it and decode the same values: xf-cat --header and
# --json for a stream, tests/fuzz/manifest_json for a manifest (a tar's
# manifest.msgpack, or a bare one), against the Python decoding.  One file
# that two readers see differently is how parser-differential attacks work
# (issue 11: ext types, duplicate keys, missing or mistyped fields).
. "$(dirname "$0")/../tap.sh"
cd "$tmp" || exit 1
fuzz=$top/tests/fuzz
[ -x "$fuzz/manifest_json.bin" ] || { echo "1..0 # skip: make tests/fuzz/manifest_json.bin"; exit 0; }

cat > spec.py <<'PY'
"""The spec's reader: python3 spec.py stream|manifest FILE prints the
decoded values as JSON lines, or "REFUSED: why" and exits 1."""
import json, math, struct, sys, msgpack

class Refuse(Exception):
    pass

def need(cond, why):
    if not cond:
        raise Refuse(why)

def pairs(kv):
    d = {}
    for k, v in kv:
        need(type(k) is str, "map key not a str")
        need(k not in d, "duplicate key %r" % k)
        d[k] = v
    return d

def ext(code, data):
    raise Refuse("ext type %d" % code)

def walk(o, level, count):
    """xf's limits: non-empty containers nested at most 15 deep, at most
    max_items objects in one top-level object."""
    count[0] += 1
    # msgpack decodes the timestamp ext type itself, without ext_hook.
    need(not isinstance(o, msgpack.Timestamp), "ext type -1 (timestamp)")
    if isinstance(o, dict) and o:
        need(level + 1 < 16, "nesting")
        for k, v in o.items():
            count[0] += 1
            walk(v, level + 1, count)
    elif isinstance(o, list) and o:
        need(level + 1 < 16, "nesting")
        for v in o:
            walk(v, level + 1, count)

def objects(data, max_items, max_size):
    u = msgpack.Unpacker(raw=False, object_pairs_hook=pairs, ext_hook=ext,
                         strict_map_key=False, unicode_errors="surrogateescape",
                         max_buffer_size=max(len(data), 1))
    u.feed(data)
    try:
        while True:
            start = u.tell()
            try:
                o = u.unpack()
            except msgpack.OutOfData:
                need(u.tell() == len(data), "truncated")
                return
            need(u.tell() - start <= max_size, "object over the size limit")
            count = [0]
            walk(o, 0, count)
            need(count[0] <= max_items, "too many objects")
            yield o, len(data) - u.tell()
    except Refuse:
        raise
    except Exception as e:
        raise Refuse("msgpack: %s" % type(e).__name__)

def is_int(v, lo, hi):
    return type(v) is int and lo <= v <= hi

def short_str(v, n):
    return type(v) is str and len(v.encode("utf-8", "surrogateescape")) < n \
        and "\0" not in v

def norm(v, f32=False):
    """As xf-cat --json prints it: bins as bytes or float32s, non-finite
    numbers as null."""
    if isinstance(v, bytes):
        if f32 and len(v) % 4 == 0:
            return [norm(x) for x in struct.unpack("<%df" % (len(v) // 4), v)]
        return list(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: norm(x, f32) for k, x in v.items()}
    return v

def stream(data):
    it = objects(data, 1 << 20, 64 << 20)
    try:
        h, left = next(it)
    except StopIteration:
        raise Refuse("empty")
    need(isinstance(h, dict), "header not a map")
    need(h.get("format") == "xf-stream", "format")
    need("version" in h, "no version")
    need(is_int(h["version"], 0, 2**31 - 1) and h["version"] == 1, "version")
    for k in ("kind", "classes", "count", "endian", "provenance"):
        need(k in h, "no " + k)
    need(short_str(h["kind"], 32) and h["kind"], "kind")
    if "dtype" in h: need(short_str(h["dtype"], 16), "dtype")
    if "module" in h: need(short_str(h["module"], 64), "module")
    need(is_int(h["classes"], 0, 1 << 24), "classes")
    need(h["count"] is None or is_int(h["count"], 0, 2**63 - 1), "count")
    need(h["endian"] == "little", "endian")
    if "shape" in h:
        s = h["shape"]
        need(type(s) is list and 1 <= len(s) <= 4 and
             all(is_int(d, 1, 1 << 24) for d in s), "shape")
    p = h["provenance"]
    need(type(p) is list and all(short_str(x, 4096) for x in p), "provenance")
    want = {"images": ("uint8", 3), "features": ("float32", 1)}.get(h["kind"])
    xsize = 0
    if want:
        need("dtype" in h and "shape" in h, "dtype and shape")
        need(h["dtype"] == want[0] and len(h["shape"]) == want[1], "dtype/shape")
        xsize = math.prod(h["shape"]) * (4 if want[0] == "float32" else 1)
        need(xsize <= 64 << 20, "xsize")
    else:
        need("dtype" not in h and "shape" not in h, "a table with dtype/shape")
    n = h["count"]
    need(n is None or n == 0 or n <= left // (xsize + 1 if xsize else 1),
         "count over the bytes")
    f32 = h.get("dtype") == "float32"
    # An empty module is no module (formats/stream.md).
    out = [json.dumps(norm({k: h[k] for k in h if k in KNOWN and
                            not (k == "module" and h[k] == "")}))]
    i = 0
    for r, _ in it:
        need(n is None or i < n, "more records than count")
        need(isinstance(r, dict), "record not a map")
        if want:
            need(type(r.get("x")) is bytes and len(r["x"]) == xsize, "x")
            need("y" not in r or type(r["y"]) is int, "y type")
            if h["classes"] > 0:
                need("y" in r and 0 <= r["y"] < h["classes"], "y range")
            need(is_int(r.get("i"), 0, 2**63 - 1), "i")
            if f32:
                need(all(math.isfinite(x) for x in
                         struct.unpack("<%df" % (xsize // 4), r["x"])), "finite")
        else:
            need(all(not isinstance(v, (bytes, list, dict)) for v in r.values()),
                 "a table field not a scalar")
        out.append(json.dumps(norm(r, f32)))
        i += 1
    need(n is None or i == n, "fewer records than count")
    return out

KNOWN = ("format", "version", "kind", "dtype", "shape", "module", "classes",
         "count", "endian", "provenance")

def name_ok(s):
    return type(s) is str and 0 < len(s) < 64 and s[0] != "." and \
        ".." not in s and all(c.isascii() and (c.isalnum() or c in "_.")
                              for c in s)

def manifest(data):
    need(len(data) <= 1 << 20, "over 1 MiB")
    objs = list(objects(data, 1 << 16, 1 << 20))
    need(len(objs) == 1, "not one object")
    m = objs[0][0]
    need(isinstance(m, dict), "not a map")
    need(m.get("format") == "xf-checkpoint", "format")
    need(is_int(m.get("version"), 0, 2**31 - 1) and m["version"] == 1, "version")
    for k in ("arch", "input", "classes", "tensors"):
        need(k in m, "no " + k)
    need(short_str(m["arch"], 256) and m["arch"], "arch")
    need(is_int(m["classes"], 1, 1 << 24), "classes")
    need(type(m["input"]) is list and len(m["input"]) == 3 and
         all(is_int(d, 1, 1 << 16) for d in m["input"]), "input")
    need(type(m["tensors"]) is list, "tensors")
    tensors, names, total = [], set(), 0
    for t in m["tensors"]:
        need(isinstance(t, dict), "tensor not a map")
        need(short_str(t.get("name"), 64) and t["name"], "tensor name")
        need(short_str(t.get("dtype"), 16) and t["dtype"] == "float32", "dtype")
        need(name_ok(t["name"]) and t["name"] not in names, "name")
        s = t.get("shape")
        need(type(s) is list and 1 <= len(s) <= 4 and
             all(is_int(d, -2**63, 2**63 - 1) for d in s), "shape")
        count = 1
        for d in s:
            need(1 <= d <= (4 << 30) // 4 // count, "shape over 4 GiB")
            count *= d
        need(is_int(t.get("bytes"), 0, 2**63 - 1) and t["bytes"] == 4 * count,
             "bytes")
        names.add(t["name"])
        tensors.append({"name": t["name"], "shape": s})
    meta = {}
    if "meta" in m:
        need(isinstance(m["meta"], dict), "meta")
        for k, v in m["meta"].items():
            need(short_str(k, 64), "meta key")
            need(is_int(v, -2**63, 2**63 - 1) or type(v) is float or
                 short_str(v, 4096), "meta value")
            meta[k] = v
    return [json.dumps(norm({"arch": m["arch"], "input": m["input"],
                             "classes": m["classes"], "tensors": tensors,
                             "meta": meta}))]

try:
    kind, path = sys.argv[1:3]
    lines = (stream if kind == "stream" else manifest)(open(path, "rb").read())
except Refuse as e:
    print("REFUSED:", e)
    sys.exit(1)
print("\n".join(lines))
PY

# same A B: two files of JSON lines hold the same values (numbers equal as
# doubles, or as float32 where one side printed a float32).
cat > same.py <<'PY'
import json, math, struct, sys

def f32(x):
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        return None

def eq(a, b):
    if type(a) is int and type(b) is int:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
            type(a) is not bool and type(b) is not bool:
        return float(a) == float(b) or f32(a) == f32(b) is not None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)
    return a == b

def load(p):
    return [json.loads(l) for l in
            open(p, "rb").read().decode("utf-8", "surrogateescape").splitlines()]

a, b = load(sys.argv[1]), load(sys.argv[2])
if len(a) != len(b):
    sys.exit("%d lines against %d" % (len(a), len(b)))
for i, (x, y) in enumerate(zip(a, b)):
    if not eq(x, y):
        sys.exit("line %d: %s against %s" % (i, json.dumps(x)[:200], json.dumps(y)[:200]))
PY

# compare NAME XF_OK: xf.out/py.out and their exits decide.
compare() {
	local name=$1 xf_ok=$2 py_ok=$3 why
	if [ "$xf_ok" = 1 ] && [ "$py_ok" = 1 ]; then
		pass "$name: both refuse ($(head -c 100 xf.err | tr '\n' ' ')| $(cut -c1-60 py.out))"
	elif [ "$xf_ok" = 0 ] && [ "$py_ok" = 0 ]; then
		if why=$(/usr/bin/python3 same.py xf.out py.out 2>&1); then
			pass "$name: both accept, the same $(wc -l < py.out) values"
		else
			not_ok "$name: both accept, values differ" "$why"
		fi
	else
		not_ok "$name: xf exit $xf_ok, Python exit $py_ok" \
		    "xf: $(head -c 200 xf.err)" "python: $(head -c 200 py.out)"
	fi
}

# ---- streams ----
n_streams=0
for f in "$fuzz"/corpus/stream/* "$fuzz"/regress/stream/*; do
	[ -f "$f" ] || continue
	n_streams=$((n_streams + 1))
	name=${f#"$fuzz"/}
	xf_ok=0
	{ xf-cat --header "$f" && xf-cat --json "$f"; } > xf.out 2> xf.err || xf_ok=1
	/usr/bin/python3 spec.py stream "$f" > py.out 2>&1
	compare "$name" $xf_ok $?
done

# ---- manifests: bare ones, and the manifest.msgpack of each tar ----
n_manifests=0
for f in "$fuzz"/corpus/ckpt/* "$fuzz"/regress/ckpt/*; do
	[ -f "$f" ] || continue
	name=${f#"$fuzz"/}
	case $f in
	*.tar)
		# The tar layer is libarchive's and tested in hostile.sh; here
		# only its manifest, when Python's tarfile finds one first.
		/usr/bin/python3 -c 'import sys, tarfile
t = tarfile.open(sys.argv[1], "r:")
m = t.getmembers()[0]
assert m.name == "manifest.msgpack" and m.isfile()
open("m.msgpack", "wb").write(t.extractfile(m).read())' "$f" 2> /dev/null ||
			continue
		;;
	*) cp "$f" m.msgpack ;;
	esac
	n_manifests=$((n_manifests + 1))
	xf_ok=0
	"$fuzz/manifest_json.bin" m.msgpack > xf.out 2> xf.err || xf_ok=1
	/usr/bin/python3 spec.py manifest m.msgpack > py.out 2>&1
	compare "$name (manifest)" $xf_ok $?
done
[ "$n_streams" -ge 20 ] && [ "$n_manifests" -ge 10 ]
ok $? "the corpus gave $n_streams streams and $n_manifests manifests"

tap_done
