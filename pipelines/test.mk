# The tiny synthetic configuration of tests/pipeline: every study, seconds.
SRC_TRAIN = synthetic --count 1000 -s 1
SRC_TEST  = synthetic --count 200 -s 1 --split test
# The studies' target follows the regime's choice of pair (near: classes
# 5-9 of the source's generator, far: another generator seed).
TGT_SEL_far  = synthetic -s 2
TGT_SEL_near = synthetic -s 1 --classes 5,6,7,8,9
# On either pair, the regime's own subset of N_TARGET images and its
# validation subset: the shuffle study's b = 28 runs are then the regime's,
# copied, on the chosen pair and on the other (pipeline.sh checks).
TGT_TRAIN = $(if $(filter near,$(PAIR)),$(REG_NEAR_TRAIN),$(REG_FAR_TRAIN)) -n $(N_TARGET)
# Without the regime's choice (USE_REGIME=0: the ssh, Slurm and sweep
# tests), 300 target images, all the far generator's.
N_TARGET = 300
TGT_TEST  = $(TGT_SEL) --count 200 --split test
TGT_VAL   = $(if $(filter near,$(PAIR)),$(REG_NEAR_VAL),$(REG_FAR_VAL))
TGT_CKA   = $(TGT_SEL) --count 100 --split test
TGT_CRIT  = $(TGT_SEL) --count 100 --split test
N_INTERP  = 100
TGT_INTERP = $(TGT_SEL) --count 100 --split test
SRC_VAL   = synthetic --count 100 -s 3 --split test
YOS_DIS_TRAIN = synthetic --count 300 -s 2
YOS_DIS_TEST  = synthetic --count 200 -s 2 --split test
YOS_DIS_VAL   = synthetic --count 100 -s 3 --split test
YOS_SUBSET =
ARCH = cnn-s
BLOCKS = 28 7
# NSEEDS=2 for the fan-out tests (ssh, Slurm, sweep), which test the fan-out of one sweep.
NSEEDS ?= 3
SEEDS = $(shell seq 1 $(NSEEDS))
YOS_SEEDS = 1
PRE_EPOCHS = 1
EPOCHS = 1
YOS_EPOCHS = 1
# Not the full scale's Yosinski batch and steps (config.mk): one epoch.
YOS_ARGS =
YOS_DIS_ARGS =
BATCH = 50
VAL_EVERY = 2
CRIT_GRID = 3
CRIT_DRAWS = 1
INTERP_POINTS = 5
N_LAYERS = 3
include regime-test.mk
HESS_DRAWS = 4
# No nested second-architecture run (pipeline.sh runs resnet-8 itself).
COMPARE_ARCH =
