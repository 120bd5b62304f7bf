# ---- 0. regime: where does pretraining help, near and far? ----
# Included from the Makefile.  P-T against RI-T at b = 28, for each pair of
# config.mk (near, far), target size in REG_N and seed in REG_SEEDS, each run
# REG_STEPS steps; then the rule of config.mk picks the pair and size the
# other studies are meant to use (analysis/regime-choice.mk).
REG_PAIRS := near far
# The near pair's P_A: trained on the source classes A, REG_PRE_STEPS steps,
# with a checkpoint series (ten, the first at step 0) for the checkpoint
# study when the rule picks this pair; P_A is $(P)/near/p.tar.
REG_PRE_EVERY = $$(( $(REG_PRE_STEPS) / 10 > 0 ? $(REG_PRE_STEPS) / 10 : 1 ))
$(eval $(call settings,$(P)/near/p.args,$(ARCH) $(REG_PRE_STEPS) $(BATCH) $(PRE_LR)))
$(P)/near/p.tar: $(P)/near/p.args $(D)/yos-A-train.xfs $(D)/yos-A-val.xfs $(TOP)/bin/xf-train
	@mkdir -p $(P)/near
	xf-train -a $(ARCH) --steps $(REG_PRE_STEPS) -e 1000000 -b $(BATCH) \
	  -l $(PRE_LR) -s 1 -j $(NPROC) --val $(D)/yos-A-val.xfs \
	  --val-every $(REG_PRE_EVERY) --save-steps $(REG_PRE_EVERY) \
	  --save-prefix $(P)/near/p \
	  --log $(P)/near/p.log.xfs -o $@ $(D)/yos-A-train.xfs
REG_PRE_near := $(P)/near/p.tar
REG_PRE_far  := $(P)/p.tar
# Data: a train subset per size (no -n for all), a test and a validation
# split per pair.
reg_n   = $(if $(filter all,$(1)),,-n $(1))
reg_src = $(REG_$(if $(filter near,$(1)),NEAR,FAR)_$(2))
$(foreach p,$(REG_PAIRS),\
  $(eval $(call import,$(D)/reg-$(p)-test.xfs,$(call reg_src,$(p),TEST)))\
  $(eval $(call import,$(D)/reg-$(p)-val.xfs,$(call reg_src,$(p),VAL)))\
  $(foreach n,$(REG_N),$(eval $(call import,$(D)/reg-$(p)-train-n$(n).xfs,$(call reg_src,$(p),TRAIN) $(call reg_n,$(n))))))
# The runs: RUN_ARGS first, so -b and --val-every here win.
reg_args_pt  = --init $(REG_PRE_$(1)) --new-head -l $(LR)
reg_args_rit = -a $(ARCH) -l $(LR)
REG_ARGS = -b $(REG_BATCH) --val-every $(REG_VAL_EVERY) --steps $(REG_STEPS)
$(foreach p,$(REG_PAIRS),$(foreach n,$(REG_N),$(foreach k,pt rit,$(foreach s,$(REG_SEEDS),\
  $(eval $(call run,regime,$(REG)/$(p)-n$(n)-$(k)-s$(s),$(D)/reg-$(p)-train-n$(n).xfs,$(D)/reg-$(p)-test.xfs,$(s),1000000,$(REG_ARGS) $(call reg_args_$(k),$(p)),$(if $(filter pt,$(k)),$(REG_PRE_$(p)))))))))
REG_EVALS := $(foreach p,$(REG_PAIRS),$(foreach n,$(REG_N),$(foreach k,pt rit,\
  $(foreach s,$(REG_SEEDS),$(REG)/$(p)-n$(n)-$(k)-s$(s).eval.xfs))))
$(R)/regime.stamp: $(REG_EVALS)
	$(call sweep,$(R)/regime.queue,$(P)/near/p.tar $(P)/p.tar)
	@touch $@
# The tables, and the rule's choice (make syntax, for a later include).
$(eval $(call settings,$(A)/regime.args,$(REG_PICK_PAIR) $(REG_MIN_LEAD) $(REG_PLATEAU) $(REG_N)))
$(A)/regime.tsv $(A)/regime-mean.tsv $(A)/regime-curves.tsv $(A)/regime-choice.mk: \
  $(R)/regime.stamp $(A)/regime.args regime.py
	@mkdir -p $(A)
	./regime.py tables $(REG) $(D) $(P) $(A) $(REG_PLATEAU) \
	  $(REG_PICK_PAIR) $(REG_MIN_LEAD)
$(F)/regime.png: $(A)/regime-mean.tsv regime.gp plots/common.gp
	@mkdir -p $(F); $(call GNUPLOT,PAIRS='$(REG_PAIRS)',../regime)
$(F)/regime-curves.png: $(A)/regime-curves.tsv regime.gp plots/common.gp
	@mkdir -p $(F); $(call GNUPLOT,PAIRS='$(REG_PAIRS)'; CURVES=1; NS='$(REG_N)',../regime)
regime: $(F)/regime.png $(F)/regime-curves.png $(A)/regime-choice.mk
.PHONY: regime
# The report opens with the regime study, in the demo and in make paper.
$(OUT)/REPORT.md: $(F)/regime.png $(F)/regime-curves.png $(A)/regime-choice.mk \
  regime.py
