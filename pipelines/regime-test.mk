# The regime study's part of the tiny synthetic configuration (test.mk
# includes it): both pairs on synthetic data, two sizes, three seeds.
REG_NEAR_TRAIN = synthetic --count 1000 -s 1 --classes 5,6,7,8,9
REG_NEAR_TEST  = synthetic --count 200 -s 1 --split test --classes 5,6,7,8,9
REG_NEAR_VAL   = synthetic --count 100 -s 3 --split test --classes 5,6,7,8,9
REG_FAR_TRAIN  = synthetic --count 300 -s 2
REG_FAR_VAL    = synthetic --count 100 -s 4 --split test
REG_FAR_TEST   = synthetic --count 200 -s 2 --split test
REG_N          = 100 all
REG_SEEDS      = 1 2 3
REG_BATCH      = 50
REG_STEPS      = 8
REG_PRE_STEPS  = 10
