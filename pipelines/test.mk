# The tiny synthetic configuration of tests/pipeline: every study, seconds.
SRC_TRAIN = synthetic --count 1000 -s 1
SRC_TEST  = synthetic --count 200 -s 1 --split test
TGT_TRAIN = synthetic --count 300 -s 2
TGT_TEST  = synthetic --count 200 -s 2 --split test
TGT_VAL   = synthetic --count 100 -s 3 --split test
SRC_VAL   = synthetic --count 100 -s 3 --split test
TGT_CKA   = synthetic --count 100 -s 2 --split test
TGT_CRIT  = synthetic --count 100 -s 2 --split test
YOS_SUBSET =
ARCH = cnn-s
BLOCKS = 28 7
SEEDS = 1 2
YOS_SEEDS = 1
PRE_EPOCHS = 1
EPOCHS = 1
YOS_EPOCHS = 1
BATCH = 50
VAL_EVERY = 2
CRIT_GRID = 3
CRIT_DRAWS = 1
INTERP_POINTS = 5
N_LAYERS = 3
include regime-test.mk
HESS_DRAWS = 4
