#!/bin/bash
# The hostile-input table: crafted bad streams, checkpoints and command
# lines given to the tools.  Each must exit 1 (bad data) or 2 (usage), print
# exactly one line on stderr naming the file and what is wrong, and stay
# within a 1 GiB address space (ulimit -v): never crash, hang or balloon.
. "$(dirname "$0")/../tap.sh"
corpus=$top/tests/fuzz/corpus
cd "$tmp" || exit 1

# check WANT_EXIT WANT_TEXT CMD...: exit, one stderr line holding WANT_TEXT.
check() {
	local want=$1 text=$2
	shift 2
	# ASan reserves terabytes of address space: under SAN=1 its own
	# allocator limits stand in for ulimit -v.
	if [ "${XF_SAN:-0}" = 1 ]; then
		( ulimit -t 60; exec "$@" ) > out 2> err < /dev/null
	else
		( ulimit -v 1048576; ulimit -t 20; exec "$@" ) > out 2> err < /dev/null
	fi
	local r=$? lines
	lines=$(wc -l < err)
	if [ $r -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qF -- "$text" err; then
		ok 0 "$* -> $r: $(cat err)"
	else
		ok 1 "$* -> exit $r (want $want), $lines lines, want '$text': $(head -3 err | tr '\n' '|')"
	fi
}

xf-import synthetic --count 40 -s 1 > good.xfs
xf-train -a cnn-s --steps 2 -o good.tar good.xfs
# Bytes of good.xfs's header: its records all have the same size.
rec=$(( $(xf-import synthetic --count 41 -s 1 | wc -c) - $(wc -c < good.xfs) ))
hdr=$(( $(wc -c < good.xfs) - 40 * rec ))

# ---- streams: the fuzz corpus's hostile headers, through every reader ----
for f in "$corpus"/stream/hostile-*; do
	name=$(basename "$f")
	check 1 "$name: header" xf-cat "$f"
done
for f in "$corpus"/stream/hostile-bin32-4g "$corpus"/stream/hostile-nesting-bomb; do
	check 1 "$(basename "$f"): header" xf-shuffle -b 7 "$f"
	check 1 "$(basename "$f"): header" xf-train -a mlp --steps 1 -o x.tar "$f"
	check 1 "$(basename "$f"): header" xf-eval -m good.tar "$f"
done
# Records: truncated at every field of the first record.
for cut in 1 3 5 8 12 20 100 500; do
	head -c $(( hdr + cut )) good.xfs > cut.xfs
	check 1 "cut.xfs: record 0" xf-cat cut.xfs
done
head -c $(( $(wc -c < good.xfs) - 1 )) good.xfs > last.xfs
check 1 "last.xfs: record 39" xf-shuffle -b 7 last.xfs
# A record whose x is the wrong size, a label out of range, a wrong dtype.
printf '\x82\xa1y\x01\xa1x\xc4\x03abc' > rec1; cat <(head -c $hdr good.xfs) rec1 > small-x.xfs
check 1 'small-x.xfs: record 0: "x" has 3 bytes' xf-train -a mlp --steps 1 -o x.tar small-x.xfs
printf '\x82\xa1y\x63\xa1x\xc5\x03\x10' > rec2; head -c 784 /dev/zero >> rec2
cat <(head -c $hdr good.xfs) rec2 > label.xfs
check 1 'label.xfs: record 0: label' xf-eval -m good.tar label.xfs
xf-eval -m good.tar --features fc1 good.xfs > feat.xfs
check 1 'feat.xfs: header' xf-train -a mlp --steps 1 -o x.tar feat.xfs
check 1 'good.xfs: header' xf-cka good.xfs feat.xfs
printf '\xdd\xff\xff\xff\xff' > bomb; cat <(head -c $hdr good.xfs) bomb > rec-bomb.xfs
check 1 'rec-bomb.xfs: record 0' xf-cat rec-bomb.xfs

# ---- checkpoints: the corpus's hostile tars, through every reader ----
for f in "$corpus"/ckpt/hostile-*.tar; do
	name=$(basename "$f")
	check 1 "$name:" xf-eval -m "$f" good.xfs
done
for f in "$corpus"/ckpt/hostile-symlink.tar "$corpus"/ckpt/hostile-wrong-size.tar \
    "$corpus"/ckpt/hostile-gzip.tar; do
	check 1 "$(basename "$f"):" xf-train --init "$f" --steps 1 -o x.tar good.xfs
	check 1 "$(basename "$f"):" xf-cka -a "$f" good.xfs
	check 1 "$(basename "$f"):" xf-interp -m "$f" -m good.tar good.xfs
	check 1 "$(basename "$f"):" xf-critic --init "$f" -m good.tar good.xfs
done
head -c 3000 good.tar > cut.tar
check 1 "cut.tar:" xf-eval -m cut.tar good.xfs
check 1 "good.xfs:" xf-eval -m good.xfs good.xfs
# A checkpoint of another architecture, and one that does not fit the data.
xf-train -a mlp --steps 1 -o mlp.tar good.xfs
check 1 "mlp.tar" xf-interp -m good.tar -m mlp.tar good.xfs
xf-import synthetic --count 10 --shape 3,8,8 -s 1 -o rgb.xfs
check 1 "mlp.tar: images are 3x8x8" xf-eval -m mlp.tar rgb.xfs
check 1 "mlp.tar" xf-train --init mlp.tar --steps 1 -o x.tar rgb.xfs

# ---- xf-align: architectures, widths, data, a NaN cost ----
xf-train -a c8,c8,p,c16,c16,p,f64,f --steps 1 -o thin.tar good.xfs
check 1 "mlp.tar: tensor 0 is fc1.weight, want conv1.weight" xf-align -a good.tar -b mlp.tar -o x.tar
check 1 "thin.tar: tensor conv1.weight: shape 8x1x3x3, want 16x1x3x3" xf-align -a good.tar -b thin.tar -o x.tar
check 2 "--method activations: give the data" xf-align --method activations -a good.tar -b good.tar -o x.tar
check 1 "rgb.xfs: good.tar: images are 3x8x8" xf-align --method activations -a good.tar -b good.tar -o x.tar rgb.xfs
# Weights near FLT_MAX are finite, so the reader takes them; the
# activations overflow and conv1's correlations are NaN.
/usr/bin/python3 - good.tar huge.tar <<'PY'
import io, sys, tarfile
src, dst = tarfile.open(sys.argv[1]), tarfile.open(sys.argv[2], "w", format=tarfile.USTAR_FORMAT)
for m in src.getmembers():
    data = src.extractfile(m).read()
    if m.name == "conv1.weight":
        data = b"\xff\xff\x7f\x7f" * (len(data) // 4)
    dst.addfile(m, io.BytesIO(data))
dst.close()
PY
check 1 "conv1: cost (0, 0) is nan" xf-align --method activations -a huge.tar -b good.tar -o x.tar good.xfs

# ---- command lines: bad numbers and impossible requests exit 2 ----
check 2 "-e -1" xf-train -e -1 -o x.tar good.xfs
check 2 "-b 0" xf-train -b 0 -o x.tar good.xfs
check 2 "-l abc" xf-train -l abc -o x.tar good.xfs
check 2 "-b 0" xf-shuffle -b 0 good.xfs
check 2 "-b 5" xf-shuffle -b 5 good.xfs
check 2 "-n" xf-interp -n 1 -m good.tar -m good.tar good.xfs
check 2 "-k" xf-critic -k 0 --init good.tar -m good.tar good.xfs
check 2 "--pool" xf-cka --pool 0 -a good.tar good.xfs
check 2 "-r" xf-cat -r 9:x good.xfs
check 2 "--count" xf-import synthetic --count -5
check 2 "--classes" xf-import synthetic --classes 0,0
check 2 "-j" xf-eval -j -3 -m good.tar good.xfs

tap_done
